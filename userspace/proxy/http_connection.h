// HttpConnection: one client connection, from accept to close. Reads each request header
// under the header limits and timeouts, refuses anything that could smuggle a request (the
// rules are in http1_framing.h), routes it, and either answers directly or streams it to an
// upstream and the response back, chunk by chunk (bodies are never buffered whole). A 101 from
// the upstream turns it into a tunnel. Proxying one request is in cluster_exchange.cpp.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "proxy/asio.h"
#include "proxy/deadline.h"
#include "proxy/http1_framing.h"
#include "proxy/route_admission.h"
#include "proxy/serving_context.h"
#include "proxy/tcp_or_tls_stream.h"

namespace hotgate {

// Response fields of the gateway's retries (docs/routing.md): how many tries a retried request
// took, and an endpoint's mark on a 502/503/504 that it did not act on the request (removed
// before the client sees the response).
inline constexpr std::string_view kAttemptsField = "x-hotgate-attempts";
inline constexpr std::string_view kRetryableField = "x-hotgate-retryable";

class Worker;
namespace h2 {
class Http2Session;
class UpstreamSession;
struct UpstreamStream;
}

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
public:
    // `peer`: the client's address as accept() returned it (none: unknown).
    HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket, std::optional<asio::ip::address> peer)
        : HttpConnection(worker, listener, std::move(socket), std::move(peer), Kind::Client) {}
    // A connection that was parked between requests (ParkedConnections) and is readable again.
    struct Unparked {};
    HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket, std::optional<asio::ip::address> peer,
                   Unparked);
    // A connection adopted from another version, with the bytes it had already read from it.
    HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket, std::optional<asio::ip::address> peer,
                   std::string_view already_read);
    // A shadow connection (docs/verification.md): the loopback path over which `gwctl verify`
    // mirrors sampled requests to this version. Plain, never parked or handed over; its requests
    // pass no rate limit or breaker and count in no metric, and a non-idempotent one is answered
    // from the routing alone (a dry run), never sent upstream.
    struct Shadow {};
    HttpConnection(Worker& worker, tcp::socket socket, Shadow);
    // The HTTP/1.1 side of an HTTP/2 stream's bridge (docs/http2.md): requests of the HTTP/2
    // connection from `peer` on `listener`, which owns this connection's lifetime: it is not
    // counted as a connection, never parks, is never handed over or closed by a drain, and waits
    // for its next request as long as the HTTP/2 connection keeps it. `tls`: the client's
    // connection is TLS (X-Forwarded-Proto, spans).
    struct Bridged {
        bool tls = false;
        std::string_view tls_version;  // OpenSSL's name of the client's protocol (static text)
        std::string sni;               // the name the client sent, if any
    };
    HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket, std::optional<asio::ip::address> peer,
                   Bridged bridged);
    ~HttpConnection();
    HttpConnection(const HttpConnection&) = delete;
    HttpConnection& operator=(const HttpConnection&) = delete;

    // Serves requests until the client closes, a request asks for close, an error, or drain;
    // or until it is idle between requests for kParkAfter: then its socket goes to the worker's
    // ParkedConnections (docs/architecture.md, request flow step 7) and this object ends.
    awaitable<void> run();

    // Drain: closes the connection now if it is waiting for a request with nothing read yet;
    // otherwise the request in progress finishes and its response carries Connection: close.
    void closeIfIdle();

    // Upgrade: passes the connection to the other version (ServingContext::hand_off) as soon as
    // it sits at a request boundary: now if it is between requests, else after the response in
    // progress. A WebSocket tunnel never moves. Falls back to closeIfIdle when no one takes it.
    void handOffAtBoundary();

    // The drain ran out: an HTTP/2 connection resets its open streams (Http2Session::cutStreams).
    void cutHttp2Streams();

private:
    enum class Kind { Client, Shadow, Bridged };
    HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket, std::optional<asio::ip::address> peer,
                   Kind kind);

    enum class Phase { WaitingForRequest, ReadingRequest, Serving, Tunneling, Http2 };
    enum class HeaderRead { Complete, Closed, IdleTimeout, HeaderTimeout, TooLarge, Error, HandOff, Park };
    // How a request ended: keep the connection for the next one, or close it.
    enum class Next { KeepAlive, Close };

    using RequestParser = http1::RequestParser;
    struct Exchange;         // one request proxied to a cluster (cluster_exchange.cpp)
    struct ExchangeFailure;  // why it ended early, and how the client is answered

    // TLS listeners: the server handshake, counted by result and resumption. False: closed.
    awaitable<bool> handshake();
    // HTTP/2 (docs/http2.md): whether this connection speaks it (ALPN h2 after the handshake,
    // or, on a plaintext listener that speaks h2, the preface as its first bytes), and serving
    // it with an Http2Session until the connection ends.
    bool negotiatedHttp2();
    bool sentHttp2Preface() const;
    awaitable<void> serveHttp2();
    // `request_started`: the header timeout applies from the start (a new connection, or bytes
    // already waiting); otherwise the idle timeout until the first byte.
    awaitable<HeaderRead> readHeaderBlock(bool request_started, std::size_t& header_end);
    awaitable<Next> serveRequest(std::size_t header_end);
    awaitable<Next> answerDirect(RequestParser& parser, std::size_t route, bool keep_alive);
    // Reads the request body to its end and drops it; the error when it could not be read.
    awaitable<error_code> discardBody(RequestParser& parser);

    // gwctl verify (shadow_requests.cpp). A live request's copy for the shadow tap, when it is
    // sampled (kept in pending_shadow_ until its answer was written); `head` is its header block.
    void copyForShadow(const RequestParser& parser, std::size_t route, std::string head);
    void offerShadowCopy();
    // A shadow connection's non-idempotent request: the route and cluster it would go to.
    awaitable<Next> answerDryRun(RequestParser& parser, std::size_t route, bool keep_alive);

    // Proxying, in steps (cluster_exchange.cpp). Each step returns nothing when it succeeded,
    // else the failure, which proxyToCluster alone answers.
    awaitable<Next> proxyToCluster(RequestParser& parser, std::size_t route, bool keep_alive);
    void prepareUpstreamHead(Exchange& exchange);
    awaitable<std::optional<ExchangeFailure>> exchangeWithUpstream(Exchange& exchange);  // pick, send, read the head
    awaitable<std::optional<ExchangeFailure>> sendRequest(Exchange& exchange);
    awaitable<std::optional<ExchangeFailure>> readResponseHead(Exchange& exchange);
    awaitable<std::optional<ExchangeFailure>> relayResponse(Exchange& exchange);
    awaitable<std::optional<ExchangeFailure>> tunnel(Exchange& exchange);
    awaitable<Next> answerFailure(Exchange& exchange, ExchangeFailure failure);
    // h2 clusters (h2/upstream_exchange.cpp): the tries, the body pump beside the response relay.
    struct Http2Pump;
    awaitable<std::optional<ExchangeFailure>> exchangeOverHttp2(Exchange& exchange);
    awaitable<void> pumpToHttp2(Exchange& exchange, std::shared_ptr<h2::UpstreamSession> session, std::int32_t id,
                                std::shared_ptr<h2::UpstreamStream> stream, std::shared_ptr<Http2Pump> pump);
    awaitable<void> finishPump(Http2Pump& pump);
    awaitable<std::optional<ExchangeFailure>> relayHttp2Response(Exchange& exchange, h2::UpstreamSession& session,
                                                                 std::int32_t id, h2::UpstreamStream& stream,
                                                                 bool grpc);
    // A gRPC response's status, counted for its route (hotgate_grpc_responses_total).
    void recordGrpcStatus(std::size_t route, std::uint32_t code);
    // Submits the request's span (it records one): the status answered, or the failure's.
    void recordRequestSpan(const Exchange& exchange, unsigned failure_status);

    // Reads body bytes into [data, data+capacity); returns how many, sets `ec` (timed_out when
    // no byte came within timeouts.body_read).
    awaitable<std::size_t> readBodyPiece(RequestParser& parser, char* data, std::size_t capacity, error_code& ec);
    // Writes a message (or a serializer's next part) to the client under timeouts.send: a client
    // that reads nothing for that long is dropped (`ec` is timed_out).
    template <class MessageOrSerializer>
    awaitable<void> writeToClient(MessageOrSerializer& message, error_code& ec) {
        deadline_.arm(snapshot_->config->timeouts.send, client_.socket());
        response_bytes_ += co_await http::async_write(client_, message, withError(ec));
        deadline_.disarm();
        if (ec == http::error::need_buffer) ec = {};
        if (ec && deadline_.expired()) ec = asio::error::timed_out;
    }

    // Writes a short text response (errors and direct responses); `attempts` above 1 (a proxied
    // request that was retried) is said in x-hotgate-attempts.
    struct ExtraField {
        std::string name;
        std::string value;
    };
    awaitable<bool> writeSimple(unsigned status, std::string body, bool keep_alive, unsigned attempts = 0,
                                std::optional<ExtraField> extra = std::nullopt);
    // Refuses a request its route's protection did not admit: 429 with Retry-After, or 503 with
    // x-hotgate-shed (docs/protection.md).
    awaitable<Next> refuseByProtection(std::size_t route, AdmissionVerdict verdict, bool keep_alive);
    // Refuses a request: counts it, logs the reason, answers `status` with `reason`, and closes.
    // (Coroutine parameters are taken by value: the frame would keep only a reference.)
    awaitable<Next> reject(RejectReason reason, unsigned status, std::string text);
    // Refuses a request that breaks a framing rule (400, 413, 501 or 505).
    awaitable<Next> refuse(http1::FramingError error);
    // Refuses a request whose body failed to read: 413 past the body limit, 408 on a timeout,
    // else 400.
    awaitable<Next> rejectBody(error_code ec);
    // Answers with an error status (and `extra`, when given); keeps the connection only if
    // `keep_alive`.
    awaitable<Next> answerError(std::optional<std::size_t> route, unsigned status, std::string text,
                                bool keep_alive, unsigned attempts = 0, std::optional<ExtraField> extra = std::nullopt);
    // answerError for a gRPC request: 200 with grpc-status and grpc-message and no body (a
    // Trailers-Only response once on HTTP/2), the code chosen by grpc::codeForRefusal.
    awaitable<Next> answerGrpcError(std::optional<std::size_t> route, unsigned status, std::string text,
                                    bool keep_alive, std::optional<ExtraField> extra);

    // Closes the client socket after a half-close, so the client reads everything sent first.
    void closeSocket();
    // TLS only, before closeSocket: close_notify, for 1 s at most.
    awaitable<void> sendCloseNotify();

    void finishRequest(std::optional<std::size_t> route, unsigned status);
    // The access log line of the request that just ended (access_logging.cpp), to each sink of
    // its snapshot that samples it.
    void logAccess(std::optional<std::size_t> route, unsigned status, std::chrono::steady_clock::time_point started,
                   std::chrono::steady_clock::time_point ended);
    // Gives the socket and the unconsumed bytes to the other version; false if it was refused.
    bool handOff();
    bool shouldKeepAlive(bool requested) const;

    Worker& worker_;
    ServingContext& context_;
    std::size_t listener_;
    TcpOrTlsStream client_;
    std::optional<asio::ip::address> client_address_;  // none: unknown
    std::string client_ip_;              // "192.0.2.1", for logs and X-Forwarded-For ("unknown")
    std::string client_forwarded_node_;  // RFC 7239: 192.0.2.1, "[::1]" ("unknown")
    beast::flat_buffer buffer_;  // bytes read from the client and not yet consumed
    Deadline deadline_;
    ServingSnapshotPtr snapshot_;  // the current request's (between requests: the last one's)
    http1::BodyFraming request_framing_;  // the current request's body, as decided from its head
    Phase phase_ = Phase::WaitingForRequest;
    bool closing_ = false;
    bool hand_off_requested_ = false;
    bool adopted_ = false;
    bool readable_ = false;  // unparked: the next request's bytes (or the client's close) wait
    std::uint64_t requests_served_ = 0;
    protection::BreakerBoard::Route* breaker_ = nullptr;  // the admitted request's route breaker, if any
    std::chrono::steady_clock::time_point request_started_;
    bool request_counted_ = false;  // in_flight_requests holds this connection's request
    bool shadow_ = false;           // see Shadow
    bool bridged_ = false;          // see Bridged
    bool grpc_request_ = false;     // the request in hand is gRPC (bridged only): errors answer grpc-status
    bool client_tls_ = false;       // the client's connection is TLS (this one, or the bridged one)
    std::shared_ptr<h2::Http2Session> http2_;  // Phase::Http2: the session serving this connection
    // The request in hand, for its access log line: its head once it parsed, its exchange with
    // a cluster while it is proxied (both null otherwise), and the bytes written to the client.
    const http::request<http::buffer_body>* request_head_ = nullptr;
    const Exchange* exchange_ = nullptr;
    std::uint64_t response_bytes_ = 0;
    std::string_view bridged_tls_version_;  // Bridged: the HTTP/2 connection's TLS
    std::string bridged_sni_;
    std::optional<shadow::Capture> pending_shadow_;  // reserved in the shadow tap, offered once answered
};

}  // namespace hotgate

#include "proxy/http_connection.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "observability/logging.h"
#include "proxy/connection_hand_off.h"
#include "proxy/forwarding_headers.h"
#include "proxy/h2/grpc_status.h"
#include "proxy/h2/http2_session.h"
#include "proxy/h2/message_translation.h"
#include "proxy/route_admission.h"
#include "proxy/worker.h"

namespace hotgate {
namespace {

constexpr std::size_t kReadSize = 16 * 1024;
// A request's first read takes this much: most request heads fit, and only a longer head
// grows the buffer to kReadSize.
constexpr std::size_t kFirstReadSize = 1024;
constexpr std::size_t kBodyChunk = 32 * 1024;  // for a body read and dropped (direct responses)
// A plain connection idle this long between requests parks: its socket goes to the worker's
// ParkedConnections and this object, with its coroutine and read buffer, ends. A busy
// connection's next request usually comes sooner, and keeps the cheaper path of a coroutine
// that waits.
constexpr std::chrono::milliseconds kParkAfter{100};
// A bridged connection waits between requests as long as its HTTP/2 connection keeps it open
// (which closes it when it ends): this only bounds a bridge somehow forgotten.
constexpr std::chrono::steady_clock::duration kBridgedIdle = std::chrono::hours(24);

std::string_view bufferView(const beast::flat_buffer& buffer) {
    const auto data = buffer.data();
    return {static_cast<const char*>(data.data()), data.size()};
}

RejectReason rejectReasonFor(unsigned status) {
    switch (status) {
        case 413: return RejectReason::BodyTooLarge;
        case 501:
        case 505: return RejectReason::Unsupported;
        default: return RejectReason::BadRequest;
    }
}

// A TLS listener's connections get the certificate set current at accept time.
TcpOrTlsStream makeClientStream(ServingContext& context, std::size_t listener, tcp::socket socket, bool plain) {
    if (!plain && listener < context.tls.size() && context.tls[listener]) return TcpOrTlsStream(std::move(socket), context.tls[listener]->current());
    return TcpOrTlsStream(std::move(socket));
}

}  // namespace

HttpConnection::HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket,
                               std::optional<asio::ip::address> peer, Unparked)
    : HttpConnection(worker, listener, std::move(socket), std::move(peer)) {
    requests_served_ = 1;  // it parked after serving one at least
    readable_ = true;
}

HttpConnection::HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket,
                               std::optional<asio::ip::address> peer, std::string_view already_read)
    : HttpConnection(worker, listener, std::move(socket), std::move(peer)) {
    adopted_ = true;
    requests_served_ = 1;  // a keep-alive session that began on the other version
    context_.connections_adopted.fetch_add(1, std::memory_order_relaxed);
    if (!already_read.empty()) {
        auto space = buffer_.prepare(already_read.size());
        std::memcpy(space.data(), already_read.data(), already_read.size());
        buffer_.commit(already_read.size());
    }
}

HttpConnection::HttpConnection(Worker& worker, tcp::socket socket, Shadow)
    : HttpConnection(worker, 0, std::move(socket), asio::ip::address(asio::ip::address_v4::loopback()), Kind::Shadow) {}

HttpConnection::HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket,
                               std::optional<asio::ip::address> peer, Bridged bridged)
    : HttpConnection(worker, listener, std::move(socket), std::move(peer), Kind::Bridged) {
    client_tls_ = bridged.tls;
    bridged_tls_version_ = bridged.tls_version;
    bridged_sni_ = std::move(bridged.sni);
}

HttpConnection::HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket,
                               std::optional<asio::ip::address> peer, Kind kind)
    : worker_(worker),
      context_(worker.context()),
      listener_(listener),
      client_(makeClientStream(worker.context(), listener, std::move(socket), kind != Kind::Client)),
      deadline_(client_.get_executor()),
      snapshot_(context_.current()),
      shadow_(kind == Kind::Shadow),
      bridged_(kind == Kind::Bridged),
      client_tls_(client_.isTls()) {
    client_address_ = std::move(peer);
    client_ip_ = client_address_ ? client_address_->to_string() : std::string("unknown");
    client_forwarded_node_ = client_address_ ? forwardedNode(*client_address_) : std::string("unknown");
    // TCP_NODELAY comes from the listening socket (Worker), which accepted sockets inherit.
    if (!shadow_ && !bridged_) {
        context_.open_connections.fetch_add(1, std::memory_order_relaxed);
        context_.metrics.activeConnections(listener_).Increment();
    }
    worker_.track(this);
}

HttpConnection::~HttpConnection() {
    if (request_counted_) context_.in_flight_requests.fetch_sub(1, std::memory_order_relaxed);
    if (pending_shadow_) context_.shadow_tap.release();
    worker_.untrack(this);
    if (shadow_ || bridged_) return;
    context_.metrics.activeConnections(listener_).Decrement();
    context_.open_connections.fetch_sub(1, std::memory_order_relaxed);
}

void HttpConnection::closeIfIdle() {
    if (bridged_) return;  // its HTTP/2 connection drains, and ends it
    if (http2_) {
        http2_->drain();
        return;
    }
    // A connection that has not had its first request is not idle: its client is sending one.
    if (phase_ == Phase::WaitingForRequest && buffer_.size() == 0 && requests_served_ > 0) {
        closing_ = true;
        error_code ignored;
        client_.socket().cancel(ignored);
    }
}

void HttpConnection::handOffAtBoundary() {
    // TLS state cannot move to another process: such a connection stays here, its next response
    // says Connection: close (shouldKeepAlive), and the client reconnects to the new version,
    // resuming its TLS session with the shared ticket keys. Closing it while idle instead would
    // race a request the client may be sending at that moment.
    if (bridged_) return;
    if (http2_) {
        http2_->drain();  // an HTTP/2 connection cannot move: GOAWAY sends its next streams to the new version
        return;
    }
    if (client_.isTls()) return;
    if (shadow_) {
        closeIfIdle();  // the verifier's path to this version: it ends with this version
        return;
    }
    hand_off_requested_ = true;
    if (phase_ == Phase::WaitingForRequest || phase_ == Phase::ReadingRequest) {
        error_code ignored;
        client_.socket().cancel(ignored);  // the pending read ends; run() then hands the connection off
    }
}

void HttpConnection::cutHttp2Streams() {
    if (http2_) http2_->cutStreams();
}

bool HttpConnection::handOff() {
    return handOverConnection(context_, listener_, client_.socket(), bufferView(buffer_));
}

bool HttpConnection::shouldKeepAlive(bool requested) const {
    // A version that hands its connections over keeps them alive: the next version serves them.
    // Except TLS ones, which cannot move (see handOffAtBoundary).
    if (bridged_) return requested;  // its HTTP/2 connection decides (GOAWAY)
    const DrainMode mode = context_.drain_mode.load(std::memory_order_relaxed);
    return requested && mode != DrainMode::Close && !(mode == DrainMode::HandOff && client_.isTls());
}

awaitable<void> HttpConnection::run() {
    // A connection adopted from a previous version continues a keep-alive session: it gets
    // the idle timeout, not the new-connection header timeout, unless bytes came with it.
    bool first = !adopted_ && requests_served_ == 0;
    if (client_.isTls() && first && !co_await handshake()) co_return;
    if (client_.isTls() && first && negotiatedHttp2()) {
        co_await serveHttp2();
        co_return;
    }
    for (;;) {
        std::size_t header_end = 0;
        // A request has begun on a new connection, or when bytes (or the close) are waiting.
        const bool started = first || std::exchange(readable_, false);
        const HeaderRead read =
            hand_off_requested_ ? HeaderRead::HandOff : co_await readHeaderBlock(started, header_end);
        first = false;
        if (read == HeaderRead::Park) {
            const auto idle_left = snapshot_->config->timeouts.idle - kParkAfter;
            if (worker_.park(client_.socket(), listener_, client_address_, idle_left)) co_return;
            // The worker drains (this connection came after the drain began): hand it over now
            // if that is what the drain does, else close it.
            if (context_.drain_mode.load(std::memory_order_relaxed) == DrainMode::HandOff && handOff()) co_return;
            break;
        }
        if (read == HeaderRead::HandOff) {
            if (handOff()) co_return;  // the socket now belongs to the other version
            break;
        }
        if (read == HeaderRead::HeaderTimeout || read == HeaderRead::TooLarge) {
            request_started_ = std::chrono::steady_clock::now();
            response_bytes_ = 0;  // the refusal's own, not the previous request's
        }
        if (read == HeaderRead::HeaderTimeout) {
            co_await reject(RejectReason::HeaderTimeout, 408, "request header timeout");
            break;
        }
        if (read == HeaderRead::TooLarge) {
            co_await reject(RejectReason::HeaderTooLarge, 431, "request header too large");
            break;
        }
        if (read != HeaderRead::Complete) break;  // closed, idle, drained or failed: nothing to answer
        if (requests_served_ == 0 && !adopted_ && sentHttp2Preface()) {
            co_await serveHttp2();
            co_return;
        }

        phase_ = Phase::Serving;
        // The request's snapshot, from here to its last byte (see ServingSnapshot).
        snapshot_ = context_.current();
        request_started_ = std::chrono::steady_clock::now();
        response_bytes_ = 0;
        context_.in_flight_requests.fetch_add(1, std::memory_order_relaxed);
        request_counted_ = true;
        const Next next = co_await serveRequest(header_end);
        request_head_ = nullptr;
        context_.in_flight_requests.fetch_sub(1, std::memory_order_relaxed);
        request_counted_ = false;
        if (pending_shadow_) offerShadowCopy();  // answered: its copy may go to the versions now
        ++requests_served_;
        if (next == Next::Close) break;
        if (!bridged_ && context_.drain_mode.load(std::memory_order_relaxed) == DrainMode::Close) break;
    }
    if (client_.isTls()) co_await sendCloseNotify();
    closeSocket();
}

awaitable<void> HttpConnection::sendCloseNotify() {
    if (!client_.socket().is_open()) co_return;
    error_code ignored;
    deadline_.arm(std::chrono::seconds(1), client_.socket());  // a peer not reading must not hold us
    co_await client_.sendCloseNotify(withError(ignored));
    deadline_.disarm();
}

void HttpConnection::closeSocket() {
    error_code ignored;
    client_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    client_.socket().close(ignored);
}

awaitable<bool> HttpConnection::handshake() {
    // The whole handshake must fit in the header timeout, like a request header (slow-loris).
    deadline_.arm(snapshot_->config->timeouts.header_read, client_.socket());
    error_code ec;
    co_await client_.handshake(withError(ec));
    deadline_.disarm();
    const bool ok = !ec;
    context_.metrics.recordTlsHandshake(listener_, ok, ok && SSL_session_reused(client_.ssl()) == 1);
    if (!ok) {
        log::debug("TLS handshake with ", client_ip_, " failed: ", deadline_.expired() ? "timed out" : ec.message());
        error_code ignored;
        client_.socket().close(ignored);
    }
    co_return ok;
}

bool HttpConnection::negotiatedHttp2() {
    const unsigned char* protocol = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(client_.ssl(), &protocol, &length);
    return length == 2 && protocol[0] == 'h' && protocol[1] == '2';
}

bool HttpConnection::sentHttp2Preface() const {
    return !bridged_ && !shadow_ && !client_.isTls() &&
           snapshot_->config->listeners[listener_].speaks(HttpProtocol::H2) &&
           bufferView(buffer_).starts_with(h2::kPrefaceHead);
}

awaitable<void> HttpConnection::serveHttp2() {
    phase_ = Phase::Http2;
    http2_ = std::make_shared<h2::Http2Session>(worker_, listener_, client_, client_address_, *snapshot_->config);
    // The bytes read so far (the preface, perhaps more) go to the session; the HTTP/1.1 read
    // buffer is freed for the connection's life.
    std::string already_read(bufferView(buffer_));
    buffer_.consume(buffer_.size());
    buffer_.shrink_to_fit();
    co_await http2_->run(std::move(already_read), context_.draining());
    http2_.reset();
    if (client_.isTls()) co_await sendCloseNotify();
    closeSocket();
}

awaitable<HttpConnection::HeaderRead> HttpConnection::readHeaderBlock(bool request_started, std::size_t& header_end) {
    const Config& config = *snapshot_->config;
    const std::size_t max_header = config.limits.max_header_bytes;
    // A new connection must deliver its first header within header_read (slow-loris); a
    // keep-alive connection may wait `idle` for the next request to begin.
    bool started = request_started || buffer_.size() > 0;
    phase_ = started ? Phase::ReadingRequest : Phase::WaitingForRequest;
    // A plain connection waits here for kParkAfter at most, then parks (run()).
    const bool may_park = !started && !client_.isTls() && !shadow_ && !bridged_ && config.timeouts.idle > kParkAfter;
    deadline_.arm(started    ? config.timeouts.header_read
                  : may_park ? std::chrono::duration_cast<std::chrono::steady_clock::duration>(kParkAfter)
                  : bridged_ ? kBridgedIdle
                             : config.timeouts.idle,
                  client_.socket());
    // Between requests a connection keeps kFirstReadSize of read buffer at most (a parked one
    // keeps only its socket). TLS connections never park: their stream may hold decrypted
    // bytes the socket does not show.
    if (!started && buffer_.capacity() > kFirstReadSize) buffer_.shrink_to_fit();  // empty: frees it
    std::size_t scanned = 0;
    for (;;) {
        if (const auto empty_lines = http1::leadingEmptyLines(bufferView(buffer_)); empty_lines > 0) {
            buffer_.consume(empty_lines);  // RFC 9112 2.2: empty lines before a request line are ignored
            scanned = 0;
        }
        const auto data = bufferView(buffer_);
        const auto window = data.substr(0, std::min(data.size(), max_header + 4));
        // Rescan only the tail a terminator could straddle.
        header_end = http1::findHeaderEnd(window.substr(scanned > 3 ? scanned - 3 : 0));
        if (header_end != std::string_view::npos) {
            header_end += scanned > 3 ? scanned - 3 : 0;
            deadline_.disarm();
            co_return HeaderRead::Complete;
        }
        scanned = window.size();
        if (data.size() > max_header) {
            deadline_.disarm();
            co_return HeaderRead::TooLarge;
        }
        error_code ec;
        const std::size_t want = buffer_.size() == 0 ? kFirstReadSize : kReadSize;
        const std::size_t n = co_await client_.async_read_some(buffer_.prepare(want), withError(ec));
        buffer_.commit(n);
        if (ec) {
            const bool timed_out = deadline_.expired();
            deadline_.disarm();
            if (hand_off_requested_ && ec == asio::error::operation_aborted) co_return HeaderRead::HandOff;
            if (closing_) co_return HeaderRead::Closed;
            if (timed_out && !started && may_park) co_return HeaderRead::Park;
            if (timed_out) co_return started ? HeaderRead::HeaderTimeout : HeaderRead::IdleTimeout;
            co_return (ec == asio::error::eof && buffer_.size() == 0) ? HeaderRead::Closed : HeaderRead::Error;
        }
        if (!started && n > 0) {
            started = true;
            phase_ = Phase::ReadingRequest;
            deadline_.arm(config.timeouts.header_read, client_.socket());
        }
    }
}

awaitable<HttpConnection::Next> HttpConnection::serveRequest(std::size_t header_end) {
    const Config& config = *snapshot_->config;
    RequestParser parser;
    parser.header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(config.limits.max_header_bytes + 4, UINT32_MAX)));
    parser.body_limit(config.limits.max_body_bytes);
    auto framing = http1::readRequestHead(bufferView(buffer_).substr(0, header_end), parser);
    if (!framing) {
        HOTGATE_CO_RETURN_AWAIT(refuse(std::move(framing.error())));
    }
    std::optional<std::string> shadow_head;  // sampled for gwctl verify: the header block as it came
    if (context_.shadow_tap.armed() && !shadow_) shadow_head.emplace(bufferView(buffer_).substr(0, header_end));
    buffer_.consume(header_end);
    parser.eager(true);  // body reads fill each piece as far as the bytes at hand go
    request_framing_ = *framing;
    auto& request = parser.get();
    request_head_ = &request;
    grpc_request_ = bridged_ && grpc::isGrpcRequest(request);  // gRPC comes over HTTP/2 only

    const bool keep_alive = shouldKeepAlive(request.keep_alive());
    const auto route = snapshot_->router.match(request[http::field::host], request.target());
    if (!route) {
        // Unread body bytes would be taken for the next request: close when there are any.
        HOTGATE_CO_RETURN_AWAIT(answerError(std::nullopt, 404, "no route for this request", keep_alive && parser.is_done()));
    }
    breaker_ = nullptr;  // a request that ended without an answer left its route's behind
    if (shadow_head) copyForShadow(parser, *route, std::move(*shadow_head));
    const RouteProtection& protection = snapshot_->route_protection[*route];
    if ((protection.breaker || protection.limit) && !shadow_) {
        const auto verdict = admit(protection, context_.protection->buckets(), request, client_ip_);
        if (verdict.admission != Admission::Admitted) {
            HOTGATE_CO_RETURN_AWAIT(refuseByProtection(*route, verdict, keep_alive && parser.is_done()));
        }
        breaker_ = protection.breaker;  // the answer's latency feeds the route's breaker
    }
    // A client that asked to be told before sending its body (curl does for large uploads) is
    // told now by us, unless it sent the body anyway; the upstream never sees the Expect header,
    // since the body is streamed to it only after the proxy has accepted the request.
    if (beast::iequals(request[http::field::expect], "100-continue")) {
        request.erase(http::field::expect);
        if (request.version() >= 11 && !parser.is_done() && buffer_.size() == 0) {
            http::response<http::empty_body> proceed{http::status::continue_, 11};
            error_code write_ec;
            co_await writeToClient(proceed, write_ec);
            if (write_ec) co_return Next::Close;
        }
    }
    if (config.routes[*route].direct_response) {
        HOTGATE_CO_RETURN_AWAIT(answerDirect(parser, *route, keep_alive));
    }
    if (shadow_ && !shadow::idempotentMethod(request.method_string())) {
        HOTGATE_CO_RETURN_AWAIT(answerDryRun(parser, *route, keep_alive));
    }
    HOTGATE_CO_RETURN_AWAIT(proxyToCluster(parser, *route, keep_alive));
}

awaitable<std::size_t> HttpConnection::readBodyPiece(RequestParser& parser, char* data, std::size_t capacity,
                                                     error_code& ec) {
    auto& body = parser.get().body();
    body.data = data;
    body.size = capacity;
    deadline_.arm(snapshot_->config->timeouts.body_read, client_.socket());
    co_await http::async_read_some(client_, buffer_, parser, withError(ec));
    deadline_.disarm();
    if (ec == http::error::need_buffer) ec = {};
    if (ec && deadline_.expired()) ec = asio::error::timed_out;
    co_return capacity - body.size;
}

awaitable<HttpConnection::Next> HttpConnection::answerDirect(RequestParser& parser, std::size_t route,
                                                             bool keep_alive) {
    // Consume and drop the request body so the connection stays in step for the next request.
    if (const error_code ec = co_await discardBody(parser)) {
        HOTGATE_CO_RETURN_AWAIT(rejectBody(ec));
    }
    const auto& direct = *snapshot_->config->routes[route].direct_response;
    const bool ok = co_await writeSimple(direct.status, direct.body, keep_alive);
    finishRequest(route, direct.status);
    co_return ok && keep_alive ? Next::KeepAlive : Next::Close;
}

awaitable<error_code> HttpConnection::discardBody(RequestParser& parser) {
    std::unique_ptr<char[]> scratch;
    while (!parser.is_done()) {
        if (!scratch) scratch = std::make_unique_for_overwrite<char[]>(kBodyChunk);
        error_code ec;
        co_await readBodyPiece(parser, scratch.get(), kBodyChunk, ec);
        if (ec) co_return ec;
    }
    co_return error_code{};
}

awaitable<bool> HttpConnection::writeSimple(unsigned status, std::string body, bool keep_alive, unsigned attempts,
                                            std::optional<ExtraField> extra) {
    http::response<http::string_body> response{static_cast<http::status>(status), 11};
    response.set(http::field::content_type, "text/plain");
    response.set("x-hotgate-version", snapshot_->version);
    if (attempts > 1) response.set(kAttemptsField, std::to_string(attempts));
    if (extra) response.set(extra->name, extra->value);
    response.body() = std::move(body);
    // Decided now, not when the request arrived: a drain that began meanwhile closes it.
    response.keep_alive(shouldKeepAlive(keep_alive));
    response.prepare_payload();
    error_code ec;
    co_await writeToClient(response, ec);
    co_return !ec;
}

awaitable<HttpConnection::Next> HttpConnection::reject(RejectReason reason, unsigned status, std::string text) {
    log::debug("refusing a request from ", client_ip_, " with ", status, ": ", text);
    context_.metrics.recordRejected(listener_, reason);
    co_await writeSimple(status, text + "\n", false);
    finishRequest(std::nullopt, status);
    co_return Next::Close;
}

awaitable<HttpConnection::Next> HttpConnection::refuse(http1::FramingError error) {
    HOTGATE_CO_RETURN_AWAIT(reject(rejectReasonFor(error.status), error.status, std::move(error.reason)));
}

awaitable<HttpConnection::Next> HttpConnection::rejectBody(error_code ec) {
    if (ec == http::error::body_limit) {
        HOTGATE_CO_RETURN_AWAIT(reject(RejectReason::BodyTooLarge, 413, "request body too large"));
    }
    if (ec == asio::error::timed_out) {
        HOTGATE_CO_RETURN_AWAIT(reject(RejectReason::BodyTimeout, 408, "request body timeout"));
    }
    const std::string reason = "malformed request body: " + ec.message();
    HOTGATE_CO_RETURN_AWAIT(reject(RejectReason::BadRequest, 400, reason));
}

awaitable<HttpConnection::Next> HttpConnection::refuseByProtection(std::size_t route, AdmissionVerdict verdict,
                                                                   bool keep_alive) {
    const std::string& name = snapshot_->config->routes[route].name;
    unsigned status = 503;
    std::string text;
    ExtraField extra;
    switch (verdict.admission) {
        case Admission::RateLimited:
            status = 429;
            text = "rate limit of route " + name + " exceeded";
            extra = {"retry-after", std::to_string(verdict.retry_after_s)};
            break;
        case Admission::ShedL2:
        case Admission::ShedL3:
            text = "route " + name + " is shedding load (circuit breaker)";
            extra = {std::string(kShedField), verdict.admission == Admission::ShedL3 ? "L3" : "L2"};
            break;
        case Admission::Admitted: break;
    }
    HOTGATE_CO_RETURN_AWAIT(answerError(route, status, std::move(text), keep_alive, 0, std::move(extra)));
}

awaitable<HttpConnection::Next> HttpConnection::answerError(std::optional<std::size_t> route, unsigned status,
                                                            std::string text, bool keep_alive, unsigned attempts,
                                                            std::optional<ExtraField> extra) {
    log::debug("answering ", status, " to ", client_ip_, ": ", text);
    if (grpc_request_) {
        HOTGATE_CO_RETURN_AWAIT(answerGrpcError(route, status, std::move(text), keep_alive, std::move(extra)));
    }
    const bool ok = co_await writeSimple(status, text + "\n", keep_alive, attempts, std::move(extra));
    finishRequest(route, status);
    co_return ok && keep_alive ? Next::KeepAlive : Next::Close;
}

void HttpConnection::finishRequest(std::optional<std::size_t> route, unsigned status) {
    if (shadow_) return;  // a mirrored request: counted by the verifier, not in this version's numbers
    const auto started = request_started_ == std::chrono::steady_clock::time_point{} ? std::chrono::steady_clock::now()
                                                                                     : request_started_;
    const auto ended = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(ended - started).count();
    context_.metrics.recordRequest(*snapshot_->series, listener_, route, status, seconds);
    if (!snapshot_->access_sinks.empty()) logAccess(route, status, started, ended);
    if (auto* breaker = std::exchange(breaker_, nullptr))
        protection::BreakerBoard::countAnswered(*breaker, static_cast<std::uint64_t>(seconds * 1e6));
    if (route)
        snapshot_->route_stats[*route]->record(status,
                                               std::chrono::microseconds(static_cast<std::int64_t>(seconds * 1e6)));
}

}  // namespace hotgate

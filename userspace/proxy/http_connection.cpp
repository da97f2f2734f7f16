#include "proxy/http_connection.h"

#include <unistd.h>

#include <boost/beast/websocket/rfc6455.hpp>
#include <cstring>

#include "observability/logging.h"
#include "proxy/http_limits.h"
#include "proxy/upstream_pool.h"
#include "proxy/websocket_tunnel.h"
#include "proxy/worker.h"

namespace hotgate {
namespace {

constexpr std::size_t kReadSize = 16 * 1024;
constexpr std::size_t kBodyChunk = 32 * 1024;  // per direction, per request in flight

std::string_view bufferView(const beast::flat_buffer& buffer) {
    const auto data = buffer.data();
    return {static_cast<const char*>(data.data()), data.size()};
}

// Hop-by-hop headers (RFC 9110 7.6.1) are for one connection only, never forwarded; nor are
// the headers the Connection header names.
template <bool isRequest>
void eraseHopByHop(http::header<isRequest>& header, bool keep_upgrade) {
    std::vector<std::string> named;
    const auto [first, last] = header.equal_range(http::field::connection);
    for (auto it = first; it != last; ++it) {
        std::string_view list = it->value();
        std::size_t start = 0;
        while (start < list.size()) {
            auto comma = list.find(',', start);
            auto token = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
            while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
            while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
            if (!token.empty()) named.emplace_back(token);
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
    }
    for (const auto& name : named) {
        if (keep_upgrade && beast::iequals(name, "upgrade")) continue;
        if (beast::iequals(name, "transfer-encoding") || beast::iequals(name, "content-length")) continue;
        header.erase(name);
    }
    header.erase(http::field::connection);
    header.erase(http::field::keep_alive);
    header.erase("Proxy-Connection");
    header.erase(http::field::te);
    header.erase(http::field::trailer);
    if (!keep_upgrade) header.erase(http::field::upgrade);
}

// A TLS listener's connections get the certificate set current at accept time.
TcpOrTlsStream makeClientStream(ServingContext& context, std::size_t listener, tcp::socket socket) {
    if (listener < context.tls.size() && context.tls[listener]) return TcpOrTlsStream(std::move(socket), context.tls[listener]->current());
    return TcpOrTlsStream(std::move(socket));
}

}  // namespace

HttpConnection::HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket, std::string_view already_read)
    : HttpConnection(worker, listener, std::move(socket)) {
    adopted_ = true;
    requests_served_ = 1;  // a keep-alive session that began on the other version
    context_.connections_adopted.fetch_add(1, std::memory_order_relaxed);
    if (!already_read.empty()) {
        auto space = buffer_.prepare(already_read.size());
        std::memcpy(space.data(), already_read.data(), already_read.size());
        buffer_.commit(already_read.size());
    }
}

HttpConnection::HttpConnection(Worker& worker, std::size_t listener, tcp::socket socket)
    : worker_(worker),
      context_(worker.context()),
      listener_(listener),
      client_(makeClientStream(worker.context(), listener, std::move(socket))),
      deadline_(client_.get_executor()),
      snapshot_(context_.current()) {
    error_code ec;
    const auto remote = client_.socket().remote_endpoint(ec);
    client_ip_ = ec ? std::string("unknown") : remote.address().to_string();
    client_.socket().set_option(tcp::no_delay(true), ec);
    context_.open_connections.fetch_add(1, std::memory_order_relaxed);
    context_.metrics.activeConnections(listener_).Increment();
    worker_.track(this);
}

HttpConnection::~HttpConnection() {
    if (request_counted_) context_.in_flight_requests.fetch_sub(1, std::memory_order_relaxed);
    worker_.untrack(this);
    context_.metrics.activeConnections(listener_).Decrement();
    context_.open_connections.fetch_sub(1, std::memory_order_relaxed);
}

void HttpConnection::closeIfIdle() {
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
    if (client_.isTls()) return;
    hand_off_requested_ = true;
    if (phase_ == Phase::WaitingForRequest || phase_ == Phase::ReadingRequest) {
        error_code ignored;
        client_.socket().cancel(ignored);  // the pending read ends; run() then hands the connection off
    }
}

bool HttpConnection::handOff() {
    const auto bytes = bufferView(buffer_);
    const std::string buffered(bytes);
    const std::string listener = snapshot_->config->listeners[listener_].name;
    error_code ec;
    const int fd = client_.socket().release(ec);
    if (ec) return false;
    // The receiver gets its own copy of the fd (SCM_RIGHTS); ours is closed either way.
    const bool taken = context_.hand_off && context_.hand_off(fd, listener, buffered);
    ::close(fd);
    if (taken) {
        context_.connections_handed_off.fetch_add(1, std::memory_order_relaxed);
        context_.metrics.recordHandedOff(listener_);
    }
    return taken;
}

bool HttpConnection::shouldKeepAlive(bool requested) const {
    // A version that hands its connections over keeps them alive: the next version serves them.
    // Except TLS ones, which cannot move (see handOffAtBoundary).
    const DrainMode mode = context_.drain_mode.load(std::memory_order_relaxed);
    return requested && mode != DrainMode::Close && !(mode == DrainMode::HandOff && client_.isTls());
}

awaitable<void> HttpConnection::run() {
    // A connection adopted from a previous version continues a keep-alive session: it gets
    // the idle timeout, not the new-connection header timeout, unless bytes came with it.
    bool first = !adopted_;
    if (client_.isTls() && !co_await handshake()) co_return;
    for (;;) {
        std::size_t header_end = 0;
        const HeaderRead read = hand_off_requested_ ? HeaderRead::HandOff : co_await readHeaderBlock(first, header_end);
        first = false;
        if (read == HeaderRead::HandOff) {
            if (handOff()) co_return;  // the socket now belongs to the other version
            break;
        }
        if (read == HeaderRead::HeaderTimeout || read == HeaderRead::TooLarge)
            request_started_ = std::chrono::steady_clock::now();
        if (read == HeaderRead::HeaderTimeout) {
            co_await reject(RejectReason::HeaderTimeout, 408, "request header timeout");
            break;
        }
        if (read == HeaderRead::TooLarge) {
            co_await reject(RejectReason::HeaderTooLarge, 431, "request header too large");
            break;
        }
        if (read != HeaderRead::Complete) break;  // closed, idle, drained or failed: nothing to answer

        phase_ = Phase::Serving;
        // The request's snapshot, from here to its last byte (see ServingSnapshot).
        snapshot_ = context_.current();
        request_started_ = std::chrono::steady_clock::now();
        context_.in_flight_requests.fetch_add(1, std::memory_order_relaxed);
        request_counted_ = true;
        const Next next = co_await serveRequest(header_end);
        context_.in_flight_requests.fetch_sub(1, std::memory_order_relaxed);
        request_counted_ = false;
        ++requests_served_;
        if (next == Next::Close || context_.drain_mode.load(std::memory_order_relaxed) == DrainMode::Close) break;
    }
    error_code ignored;
    if (client_.isTls() && client_.socket().is_open()) {
        deadline_.arm(std::chrono::seconds(1), client_.socket());  // a peer not reading must not hold us
        co_await client_.sendCloseNotify(withError(ignored));
        deadline_.disarm();
    }
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

awaitable<HttpConnection::HeaderRead> HttpConnection::readHeaderBlock(bool first_request, std::size_t& header_end) {
    const Config& config = *snapshot_->config;
    const std::size_t max_header = config.limits.max_header_bytes;
    // A new connection must deliver its first header within header_read (slow-loris); a
    // keep-alive connection may wait `idle` for the next request to begin.
    bool started = first_request || buffer_.size() > 0;
    phase_ = started ? Phase::ReadingRequest : Phase::WaitingForRequest;
    deadline_.arm(started ? config.timeouts.header_read : config.timeouts.idle, client_.socket());
    std::size_t scanned = 0;
    for (;;) {
        const auto data = bufferView(buffer_);
        const auto window = data.substr(0, std::min(data.size(), max_header + 4));
        // Rescan only the tail a terminator could straddle.
        header_end = findHeaderEnd(window.substr(scanned > 3 ? scanned - 3 : 0));
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
        const std::size_t n = co_await client_.async_read_some(buffer_.prepare(kReadSize), withError(ec));
        buffer_.commit(n);
        if (ec) {
            const bool timed_out = deadline_.expired();
            deadline_.disarm();
            if (hand_off_requested_ && ec == asio::error::operation_aborted) co_return HeaderRead::HandOff;
            if (closing_) co_return HeaderRead::Closed;
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
    const auto header_block = bufferView(buffer_).substr(0, header_end);
    if (auto problem = framingProblemInHeaderBytes(header_block)) {
        const Next next = co_await reject(RejectReason::BadRequest, 400, *problem);
        co_return next;
    }

    RequestParser parser;
    parser.header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(config.limits.max_header_bytes + 4, UINT32_MAX)));
    parser.body_limit(config.limits.max_body_bytes);
    parser.eager(false);
    error_code ec;
    const std::size_t used = parser.put(asio::buffer(header_block.data(), header_block.size()), ec);
    if (ec == http::error::body_limit) {
        const Next next = co_await reject(RejectReason::BodyTooLarge, 413, "request body too large");
        co_return next;
    }
    if (ec || !parser.is_header_done()) {
        // Message built before co_await: GCC 12 destroys the temporaries of a conditional
        // expression inside a co_await twice (a double free seen here).
        const std::string reason = "malformed request: " + (ec ? ec.message() : std::string("incomplete header"));
        const Next next = co_await reject(RejectReason::BadRequest, 400, reason);
        co_return next;
    }
    buffer_.consume(used);

    auto& request = parser.get();
    if (auto problem = framingProblemInHeader(request)) {
        const Next next = co_await reject(RejectReason::BadRequest, 400, *problem);
        co_return next;
    }
    if (auto length = parser.content_length(); length && *length > config.limits.max_body_bytes) {
        const Next next = co_await reject(RejectReason::BodyTooLarge, 413, "request body too large");
        co_return next;
    }

    const bool keep_alive = shouldKeepAlive(request.keep_alive());
    const auto route = snapshot_->router.match(request[http::field::host], request.target());
    if (!route) {
        // Unread body bytes would be taken for the next request: close when there are any.
        {
            const Next next =
                co_await answerError(std::nullopt, 404, "no route for this request", keep_alive && parser.is_done());
            co_return next;
        }
    }
    // A client that asked to be told before sending its body (curl does for large uploads) is
    // told now by us; the upstream never sees the Expect header, since the body is streamed to
    // it only after the proxy has accepted the request.
    if (beast::iequals(request[http::field::expect], "100-continue")) {
        request.erase(http::field::expect);
        if (request.version() >= 11 && !parser.is_done()) {
            http::response<http::empty_body> proceed{http::status::continue_, 11};
            error_code write_ec;
            co_await http::async_write(client_, proceed, withError(write_ec));
            if (write_ec) co_return Next::Close;
        }
    }
    if (config.routes[*route].direct_response) {
        const Next next = co_await answerDirect(parser, *route, keep_alive);
        co_return next;
    }
    {
        const Next next = co_await proxyToCluster(parser, *route, keep_alive);
        co_return next;
    }
}

awaitable<std::size_t> HttpConnection::readBodyPiece(RequestParser& parser, char* data, std::size_t capacity,
                                                     error_code& ec) {
    auto& body = parser.get().body();
    body.data = data;
    body.size = capacity;
    deadline_.arm(snapshot_->config->timeouts.idle, client_.socket());
    co_await http::async_read_some(client_, buffer_, parser, withError(ec));
    deadline_.disarm();
    if (ec == http::error::need_buffer) ec = {};
    co_return capacity - body.size;
}

awaitable<HttpConnection::Next> HttpConnection::answerDirect(RequestParser& parser, std::size_t route,
                                                             bool keep_alive) {
    // Consume and drop the request body so the connection stays in step for the next request.
    std::unique_ptr<char[]> scratch;
    while (!parser.is_done()) {
        if (!scratch) scratch = std::make_unique_for_overwrite<char[]>(kBodyChunk);
        error_code ec;
        co_await readBodyPiece(parser, scratch.get(), kBodyChunk, ec);
        if (ec) {
            const Next next = co_await rejectBody(ec);
            co_return next;
        }
    }
    const auto& direct = *snapshot_->config->routes[route].direct_response;
    const bool ok = co_await writeSimple(direct.status, direct.body, keep_alive);
    finishRequest(route, direct.status);
    co_return ok && keep_alive ? Next::KeepAlive : Next::Close;
}

awaitable<HttpConnection::Next> HttpConnection::proxyToCluster(RequestParser& parser, std::size_t route,
                                                               bool keep_alive) {
    const Config& config = *snapshot_->config;
    // Held to the end of the request: its snapshot's pools, even if a newer snapshot comes meanwhile.
    const auto pools = worker_.pools(*snapshot_);
    UpstreamPool& pool = *pools->clusters[*snapshot_->route_cluster[route]];
    auto& request = parser.get();
    const bool upgrade = beast::websocket::is_upgrade(request);
    const bool head = request.method() == http::verb::head;
    const unsigned client_version = request.version();

    // The upstream sees our framing and our hop-by-hop headers, never the client's.
    eraseHopByHop(request, upgrade);
    if (upgrade) request.set(http::field::connection, "Upgrade");
    if (auto forwarded = request["X-Forwarded-For"]; !forwarded.empty())
        request.set("X-Forwarded-For", std::string(forwarded) + ", " + client_ip_);
    else
        request.set("X-Forwarded-For", client_ip_);
    request.set("X-Forwarded-Proto", "http");
    request.version(11);

    // Read the first piece of the body before touching the upstream: a malformed or oversized
    // body found there is refused without the upstream ever seeing the request.
    auto request_chunk = std::make_unique_for_overwrite<char[]>(kBodyChunk);
    std::size_t first_piece = 0;
    if (!parser.is_done()) {
        error_code ec;
        first_piece = co_await readBodyPiece(parser, request_chunk.get(), kBodyChunk, ec);
        if (ec) {
            const Next next = co_await rejectBody(ec);
            co_return next;
        }
    }
    // The whole request is in hand when the body fit in the first piece: only then may a
    // failure on a reused pooled connection be retried on a new one.
    const bool replayable = parser.is_done();

    std::unique_ptr<UpstreamConnection> upstream;
    std::optional<http::response_parser<http::buffer_body>> response_parser;
    for (int attempt = 0; attempt < 2 && !response_parser; ++attempt) {
        auto acquisition = co_await pool.acquire(config.timeouts.upstream_connect, upgrade || attempt > 0);
        if (!acquisition.connection) {
            const Next next = co_await answerError(route, acquisition.error_status, acquisition.error,
                                                   keep_alive && parser.is_done());
            co_return next;
        }
        upstream = std::move(acquisition.connection);

        // Send the header and the body, piece by piece (Beast's buffer_body relay pattern).
        Deadline upstream_deadline(upstream->stream.get_executor());
        http::request_serializer<http::buffer_body> serializer{request};
        error_code ec;
        // The header goes out together with the first piece of the body: one send, not two.
        bool sent_first = false;
        while (!ec && !serializer.is_done()) {
            auto& body = request.body();
            if (!sent_first) {
                sent_first = true;
                body.data = first_piece ? request_chunk.get() : nullptr;
                body.size = first_piece;
                body.more = !parser.is_done();
            } else if (!parser.is_done()) {
                error_code read_ec;
                const std::size_t n = co_await readBodyPiece(parser, request_chunk.get(), kBodyChunk, read_ec);
                if (read_ec) {
                    const Next next = co_await rejectBody(read_ec);
                    co_return next;
                }
                // A read can parse only framing (a chunk header) and yield no body bytes. An
                // empty piece must go out as data == nullptr: Beast would write a non-null empty
                // buffer as the last chunk ("0\r\n\r\n"), ending the body early upstream.
                body.data = n ? request_chunk.get() : nullptr;
                body.size = n;
                body.more = !parser.is_done();
            } else {
                body.data = nullptr;
                body.size = 0;
                body.more = false;
            }
            upstream_deadline.arm(config.timeouts.upstream_response, upstream->stream.socket());
            co_await http::async_write(upstream->stream, serializer, withError(ec));
            upstream_deadline.disarm();
            if (ec == http::error::need_buffer) ec = {};
        }
        // The response head; 1xx informational responses before it (100 Continue, 103 Early
        // Hints) are passed on as they come, with their fields (103's Link headers are its point)
        // and their own status code (Beast has no name for 103: result() would say 0).
        while (!ec) {
            response_parser.emplace();
            response_parser->body_limit(std::numeric_limits<std::uint64_t>::max());
            response_parser->skip(head);
            upstream_deadline.arm(config.timeouts.upstream_response, upstream->stream.socket());
            co_await http::async_read_header(upstream->stream, upstream->buffer, *response_parser, withError(ec));
            upstream_deadline.disarm();
            const unsigned got = response_parser->get().result_int();
            if (ec || got / 100 != 1 || got == 101) break;
            http::response<http::empty_body> interim{response_parser->get().base()};
            eraseHopByHop(interim, false);
            co_await http::async_write(client_, interim, withError(ec));
            if (ec) co_return Next::Close;
        }
        if (!ec) {
            if (upstream_deadline.expired()) {
                pool.recordTimeout(UpstreamPhase::Response);
                {
                    const Next next = co_await answerError(route, 504, "upstream response timeout", false);
                    co_return next;
                }
            }
        }
        if (ec) {
            if (upstream_deadline.expired()) {
                pool.recordTimeout(UpstreamPhase::Response);
                {
                    const Next next = co_await answerError(route, 504, "upstream response timeout", false);
                    co_return next;
                }
            }
            response_parser.reset();
            // A pooled connection the upstream closed just as we reused it: retry once, fresh.
            if (upstream->reused && replayable && attempt == 0) continue;
            log::debug("upstream exchange failed on cluster ", pool.clusterName(), ": ", ec.message());
            {
                const Next next =
                    co_await answerError(route, 502, "upstream closed the connection before responding", false);
                co_return next;
            }
        }
    }
    if (!response_parser) {
        const Next next = co_await answerError(route, 502, "upstream failed", false);
        co_return next;
    }

    auto& response = response_parser->get();
    const unsigned status = response.result_int();
    const bool upstream_keep_alive = response.keep_alive();

    if (status == 101 && upgrade) {
        eraseHopByHop(response, true);
        response.set(http::field::connection, "Upgrade");
        response.set("x-hotgate-version", snapshot_->version);
        http::response_serializer<http::buffer_body> serializer{response};
        error_code ec;
        co_await http::async_write_header(client_, serializer, withError(ec));
        finishRequest(route, status);
        if (ec) co_return Next::Close;
        // Bytes each side sent right behind its header belong to the tunnel.
        if (upstream->buffer.size() > 0) co_await asio::async_write(client_, upstream->buffer.data(), withError(ec));
        if (!ec && buffer_.size() > 0) co_await asio::async_write(upstream->stream, buffer_.data(), withError(ec));
        upstream->buffer.consume(upstream->buffer.size());
        buffer_.consume(buffer_.size());
        if (ec) co_return Next::Close;
        phase_ = Phase::Tunneling;
        co_await runTunnel(client_, upstream->stream);
        co_return Next::Close;
    }

    eraseHopByHop(response, false);
    response.set("x-hotgate-version", snapshot_->version);
    const bool has_body = !head && status != 204 && status != 304;
    const bool delimited = response.chunked() || response_parser->content_length() || !has_body;
    bool client_keep_alive = keep_alive;
    if (!delimited) {
        // The upstream ends its body by closing: re-frame as chunked for HTTP/1.1 clients.
        if (client_version >= 11)
            response.chunked(true);
        else
            client_keep_alive = false;
    } else if (response.chunked() && client_version < 11) {
        response.chunked(false);
        client_keep_alive = false;
    }
    // Unread request body left on the client connection would be taken for the next request.
    if (!parser.is_done()) client_keep_alive = false;
    // Decided now, not when the request arrived: a drain that began meanwhile closes it.
    client_keep_alive = shouldKeepAlive(client_keep_alive);
    response.keep_alive(client_keep_alive);
    response.version(11);

    http::response_serializer<http::buffer_body> serializer{response};
    auto response_chunk = std::make_unique_for_overwrite<char[]>(kBodyChunk);
    Deadline upstream_deadline(upstream->stream.get_executor());
    error_code ec;
    // When body bytes came with the upstream's header (the common case) or there is no body,
    // the header goes out with the first piece in one send. Otherwise it goes now: a client of a
    // slow stream must not wait for the first body byte to see the response start.
    if (!response_parser->is_done() && upstream->buffer.size() == 0) {
        deadline_.arm(config.timeouts.idle, client_.socket());
        co_await http::async_write_header(client_, serializer, withError(ec));
        deadline_.disarm();
    }
    bool upstream_ok = !ec;
    while (!ec && !serializer.is_done()) {
        auto& body = response.body();
        if (!response_parser->is_done()) {
            body.data = response_chunk.get();
            body.size = kBodyChunk;
            error_code read_ec;
            upstream_deadline.arm(config.timeouts.upstream_response, upstream->stream.socket());
            co_await http::async_read_some(upstream->stream, upstream->buffer, *response_parser, withError(read_ec));
            upstream_deadline.disarm();
            if (read_ec == http::error::need_buffer) read_ec = {};
            if (read_ec == http::error::end_of_stream || read_ec == asio::error::eof)
                read_ec = {};  // close-delimited end
            if (read_ec) {
                upstream_ok = false;
                if (upstream_deadline.expired()) pool.recordTimeout(UpstreamPhase::Response);
                log::debug("upstream body read failed on ", pool.clusterName(), ": ", read_ec.message());
                ec = read_ec;  // the client sees a truncated response: closing is the only honest signal
                break;
            }
            body.size = kBodyChunk - body.size;
            body.data = body.size ? response_chunk.get() : nullptr;  // see the request side
            body.more = !response_parser->is_done();
        } else {
            body.data = nullptr;
            body.size = 0;
            body.more = false;
        }
        deadline_.arm(config.timeouts.idle, client_.socket());
        co_await http::async_write(client_, serializer, withError(ec));
        deadline_.disarm();
        if (ec == http::error::need_buffer) ec = {};
        if (ec) upstream_ok = response_parser->is_done();
    }
    finishRequest(route, status);
    if (upstream_ok && upstream_keep_alive && response_parser->is_done() && delimited)
        UpstreamPool::release(std::move(upstream));
    if (ec) co_return Next::Close;
    co_return client_keep_alive ? Next::KeepAlive : Next::Close;
}

awaitable<bool> HttpConnection::writeSimple(unsigned status, std::string body, bool keep_alive) {
    http::response<http::string_body> response{static_cast<http::status>(status), 11};
    response.set(http::field::content_type, "text/plain");
    response.set("x-hotgate-version", snapshot_->version);
    response.body() = std::move(body);
    // Decided now, not when the request arrived: a drain that began meanwhile closes it.
    response.keep_alive(shouldKeepAlive(keep_alive));
    response.prepare_payload();
    error_code ec;
    deadline_.arm(snapshot_->config->timeouts.idle, client_.socket());
    co_await http::async_write(client_, response, withError(ec));
    deadline_.disarm();
    co_return !ec;
}

awaitable<HttpConnection::Next> HttpConnection::reject(RejectReason reason, unsigned status, std::string text) {
    context_.metrics.recordRejected(listener_, reason);
    co_await writeSimple(status, text + "\n", false);
    finishRequest(std::nullopt, status);
    co_return Next::Close;
}

awaitable<HttpConnection::Next> HttpConnection::rejectBody(error_code ec) {
    if (ec == http::error::body_limit) {
        const Next next = co_await reject(RejectReason::BodyTooLarge, 413, "request body too large");
        co_return next;
    }
    const std::string reason = "malformed request body: " + ec.message();
    const Next next = co_await reject(RejectReason::BadRequest, 400, reason);
    co_return next;
}

awaitable<HttpConnection::Next> HttpConnection::answerError(std::optional<std::size_t> route, unsigned status,
                                                            std::string text, bool keep_alive) {
    log::debug("answering ", status, " to ", client_ip_, ": ", text);
    const bool ok = co_await writeSimple(status, text + "\n", keep_alive);
    finishRequest(route, status);
    co_return ok && keep_alive ? Next::KeepAlive : Next::Close;
}

void HttpConnection::finishRequest(std::optional<std::size_t> route, unsigned status) {
    const auto started = request_started_ == std::chrono::steady_clock::time_point{} ? std::chrono::steady_clock::now()
                                                                                     : request_started_;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    context_.metrics.recordRequest(*snapshot_->series, listener_, route, status, seconds);
    if (route)
        snapshot_->route_stats[*route]->record(status,
                                               std::chrono::microseconds(static_cast<std::int64_t>(seconds * 1e6)));
}

}  // namespace hotgate

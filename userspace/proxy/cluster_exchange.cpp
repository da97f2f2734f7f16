// Proxying one request to a cluster, in steps: prepare the upstream request (hop-by-hop fields
// out, forwarding fields and framing of our own in, the first body piece read), pick an endpoint
// and send the head and body, read the response head (passing 1xx on), relay the response, or
// tunnel after a 101. A step that cannot go on returns an ExchangeFailure; proxyToCluster is the
// one place that answers it. An upstream response that breaks a framing rule never reaches the
// client and its connection is never pooled: the client gets 502 and the log the reason.
#include <limits>

#include "observability/logging.h"
#include "proxy/exchange.h"
#include "proxy/forwarding_headers.h"
#include "proxy/lb/key_hash.h"
#include "proxy/lb/request_key.h"
#include "proxy/websocket_tunnel.h"
#include "proxy/worker.h"

namespace hotgate {
namespace {

constexpr std::size_t kReadSize = 16 * 1024;
constexpr std::size_t kBodyChunk = 32 * 1024;         // per direction, per request in flight
constexpr std::size_t kMaxResponseHead = 64 * 1024;   // an upstream's response head, at most
constexpr int kMaxInterimResponses = 16;              // 1xx responses before the final one

std::string_view bufferView(const beast::flat_buffer& buffer) {
    const auto data = buffer.data();
    return {static_cast<const char*>(data.data()), data.size()};
}

}  // namespace

awaitable<HttpConnection::Next> HttpConnection::proxyToCluster(RequestParser& parser, std::size_t route,
                                                               bool keep_alive) {
    auto pools = worker_.pools(*snapshot_);
    UpstreamPool& pool = *pools->clusters[*snapshot_->route_cluster[route]];
    Exchange exchange(parser, route, keep_alive, std::move(pools), pool, client_.get_executor());
    exchange.timed = !snapshot_->access_sinks.empty();
    exchange_ = &exchange;
    struct ExchangeEnds {  // exchange_ never outlives the exchange
        const Exchange*& current;
        ~ExchangeEnds() { current = nullptr; }
    } ends{exchange_};
    if (pool.policy() == LbPolicy::RingHash || pool.policy() == LbPolicy::Maglev) {
        if (auto key = lb::requestKey(pool.hashKey(), parser.get(), client_ip_))
            exchange.choice.key_hash = lb::hashKey(*key);
        else
            pool.series().hash_key_missing->Increment();
    }
    std::optional<ExchangeFailure> failure;
    // An eager parser delivers a chunk only once the next chunk's header is in: a streaming
    // client (gRPC) that waits for an answer to each message would wait forever.
    if (pool.protocol() == ClusterProtocol::H2) parser.eager(false);
    // Read the first piece of the body before touching the upstream: a malformed or oversized
    // body found there is refused without the upstream ever seeing the request.
    if (!parser.is_done()) {
        error_code ec;
        exchange.request_chunk = std::make_unique_for_overwrite<char[]>(kBodyChunk);
        exchange.first_piece = co_await readBodyPiece(parser, exchange.request_chunk.get(), kBodyChunk, ec);
        if (ec) failure = ExchangeFailure::requestBody(ec);
    }
    if (!failure) prepareUpstreamHead(exchange);
    if (!failure && pool.protocol() == ClusterProtocol::H2) {
        failure = co_await exchangeOverHttp2(exchange);
    } else if (!failure) {
        failure = co_await exchangeWithUpstream(exchange);
        if (!failure) {
            if (exchange.response->get().result_int() == 101)
                failure = co_await tunnel(exchange);
            else
                failure = co_await relayResponse(exchange);
        }
    }
    if (exchange.trace.record) recordRequestSpan(exchange, failure ? failure->status : exchange.relayed_status);
    if (!failure) co_return exchange.next;
    HOTGATE_CO_RETURN_AWAIT(answerFailure(exchange, std::move(*failure)));
}

void HttpConnection::recordRequestSpan(const Exchange& x, unsigned failure_status) {
    telemetry::SpanSink* sink = worker_.context().spans;
    if (!sink) return;
    const auto& request = x.parser.get();
    RequestSpanFacts facts;
    facts.method = request.method_string();
    facts.target = request.target();
    facts.scheme = client_tls_ ? "https" : "http";
    facts.route = snapshot_->config->routes[x.route].name;
    facts.cluster = x.pool.clusterName();
    facts.client_ip = client_ip_;
    facts.version = snapshot_->version;
    // A failure the client was never answered (it left, or its body broke) reads as 0 here.
    facts.status = x.response && !failure_status ? x.response->get().result_int() : failure_status;
    facts.start_unix_nanos = x.started_unix_nanos;
    submitRequestSpan(*sink, x.trace, facts);
}

void HttpConnection::prepareUpstreamHead(Exchange& x) {
    // The upstream sees our framing, our hop-by-hop fields and our account of the client. A
    // chunked body already whole goes with its length; one still arriving is re-chunked.
    auto framing = request_framing_;
    if (framing.kind == http1::BodyKind::Chunked && x.parser.is_done())
        framing = http1::BodyFraming::ofLength(x.first_piece);
    const auto& listener = snapshot_->config->listeners[listener_];
    const ClientFacts client{client_ip_, client_forwarded_node_, client_tls_,
                             client_address_ && isTrustedPeer(*client_address_, listener.trusted_proxies)};
    x.trace.enabled = !snapshot_->config->telemetry.otlp.endpoint.empty();
    x.trace.sample_ratio = snapshot_->config->telemetry.sample_ratio;
    makeUpstreamHead(x.parser.get(), client, x.upgrade, framing, x.trace);
    if (x.trace.record) x.started_unix_nanos = telemetry::unixNanosNow();
}

awaitable<std::optional<HttpConnection::ExchangeFailure>> HttpConnection::sendRequest(Exchange& x) {
    const Config& config = *snapshot_->config;
    auto& request = x.parser.get();
    Deadline& upstream_deadline = x.upstream_deadline;
    http::request_serializer<http::buffer_body> serializer{request};
    error_code ec;
    // The header goes out together with the first piece of the body (Beast's buffer_body relay).
    bool sent_first = false;
    while (!ec && !serializer.is_done()) {
        auto& body = request.body();
        if (!sent_first) {
            sent_first = true;
            body.data = x.first_piece ? x.request_chunk.get() : nullptr;
            body.size = x.first_piece;
            body.more = !x.parser.is_done();
        } else if (!x.parser.is_done()) {
            error_code read_ec;
            const std::size_t n = co_await readBodyPiece(x.parser, x.request_chunk.get(), kBodyChunk, read_ec);
            if (read_ec) co_return ExchangeFailure::requestBody(read_ec);
            // A read can parse only framing (a chunk header) and yield no body bytes. An empty
            // piece must go out as data == nullptr: Beast would write a non-null empty buffer as
            // the last chunk ("0\r\n\r\n"), ending the body early upstream.
            body.data = n ? x.request_chunk.get() : nullptr;
            body.size = n;
            body.more = !x.parser.is_done();
        } else {
            body.data = nullptr;
            body.size = 0;
            body.more = false;
        }
        x.armUpstreamWait(config.timeouts.upstream_response);
        x.request_bytes_sent += co_await http::async_write(x.upstream->stream, serializer, withError(ec));
        upstream_deadline.disarm();
        if (ec == http::error::need_buffer) ec = {};
    }
    if (ec) x.noteUpstreamFailure(ec);
    co_return std::nullopt;
}

awaitable<std::optional<HttpConnection::ExchangeFailure>> HttpConnection::readResponseHead(Exchange& x) {
    const Config& config = *snapshot_->config;
    Deadline& upstream_deadline = x.upstream_deadline;
    auto& in = x.upstream->buffer;
    auto malformed = [&](const std::string& reason) {
        log::warn("cluster ", x.pool.clusterName(), " endpoint ", x.upstream->endpoint->label, ": ", reason,
                  "; answering 502 and closing the upstream connection");
        x.upstream.reset();  // never pooled
        return ExchangeFailure::answer(502, "bad response from upstream");
    };
    for (int interim = 0;; ++interim) {
        std::size_t head_end = http1::findHeaderEnd(bufferView(in));
        while (head_end == std::string_view::npos) {
            if (in.size() > kMaxResponseHead) co_return malformed("response head larger than 64 KiB");
            error_code ec;
            x.armUpstreamWait(config.timeouts.upstream_response);
            const std::size_t n = co_await x.upstream->stream.async_read_some(in.prepare(kReadSize), withError(ec));
            upstream_deadline.disarm();
            in.commit(n);
            if (ec) {
                x.noteUpstreamFailure(ec);
                co_return std::nullopt;
            }
            head_end = http1::findHeaderEnd(bufferView(in));
        }
        auto& parser = x.response.emplace();
        parser.header_limit(static_cast<std::uint32_t>(kMaxResponseHead + 4));
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        auto framing = http1::readResponseHead(bufferView(in).substr(0, head_end), parser, x.method);
        if (!framing) co_return malformed(framing.error().reason);
        in.consume(head_end);
        parser.eager(true);
        auto& head = parser.get();
        const unsigned status = head.result_int();
        if (status == 101) {
            if (!x.upgrade) co_return malformed("101 Switching Protocols to a request that asked for no upgrade");
            co_return std::nullopt;  // bytes behind it belong to the tunnel
        }
        if (status / 100 != 1) {
            // Nothing may follow a response the upstream was asked for: such bytes would be read
            // as the next request's response.
            if ((framing->kind == http1::BodyKind::None && in.size() > 0) ||
                (framing->kind == http1::BodyKind::Length && in.size() > framing->length))
                co_return malformed("bytes after the end of the response (body longer than its framing)");
            x.response_framing = *framing;
            co_return std::nullopt;
        }
        if (interim >= kMaxInterimResponses) co_return malformed("more than 16 interim (1xx) responses");
        // 1xx responses (100 Continue, 103 Early Hints) go on as they come, with their fields
        // (103's Link fields are its point) and own status code; never to an HTTP/1.0 client
        // (RFC 9110 15.2).
        if (x.client_version < 11) continue;
        http::response<http::empty_body> interim_response{head.base()};
        eraseHopByHop(interim_response, false);
        http1::applyFraming(interim_response, http1::BodyFraming::none());
        error_code write_ec;
        co_await writeToClient(interim_response, write_ec);
        if (write_ec) co_return ExchangeFailure::clientGone();
    }
}

awaitable<std::optional<HttpConnection::ExchangeFailure>> HttpConnection::relayResponse(Exchange& x) {
    const Config& config = *snapshot_->config;
    auto& parser = *x.response;
    auto& response = parser.get();
    const unsigned status = response.result_int();
    const bool upstream_keep_alive = response.keep_alive();

    eraseHopByHop(response, false);
    if (status >= 500) response.erase(kRetryableField);  // meant for the gateway only
    response.set("x-hotgate-version", snapshot_->version);
    if (x.attempts > 1) response.set(kAttemptsField, std::to_string(x.attempts));
    // The client gets the framing of what it is sent: a body of unknown length is chunked for
    // an HTTP/1.1 client and ended by closing for an HTTP/1.0 one.
    auto to_client = x.response_framing;
    bool client_keep_alive = x.keep_alive;
    if (to_client.kind == http1::BodyKind::Chunked || to_client.kind == http1::BodyKind::UntilClose) {
        if (x.client_version >= 11) {
            to_client = http1::BodyFraming::chunked();
        } else {
            to_client = http1::BodyFraming::untilClose();
            client_keep_alive = false;
        }
    }
    http1::applyFraming(response, to_client);
    // Unread request body left on the client connection would be taken for the next request.
    if (!x.parser.is_done()) client_keep_alive = false;
    // Decided now, not when the request arrived: a drain that began meanwhile closes it.
    client_keep_alive = shouldKeepAlive(client_keep_alive);
    response.keep_alive(client_keep_alive);
    response.version(11);

    http::response_serializer<http::buffer_body> serializer{response};
    auto response_chunk = std::make_unique_for_overwrite<char[]>(kBodyChunk);
    Deadline& upstream_deadline = x.upstream_deadline;
    error_code ec;
    // When body bytes came with the upstream's header (the common case) or there is no body,
    // the header goes out with the first piece in one send. Otherwise it goes now: a client of a
    // slow stream must not wait for the first body byte to see the response start.
    if (!parser.is_done() && x.upstream->buffer.size() == 0) {
        deadline_.arm(config.timeouts.send, client_.socket());
        response_bytes_ += co_await http::async_write_header(client_, serializer, withError(ec));
        deadline_.disarm();
    }
    bool upstream_ok = !ec;
    bool sent_any = serializer.is_header_done();
    while (!ec && !serializer.is_done()) {
        auto& body = response.body();
        if (!parser.is_done()) {
            body.data = response_chunk.get();
            body.size = kBodyChunk;
            error_code read_ec;
            upstream_deadline.arm(config.timeouts.upstream_response, x.upstream->stream.socket());
            co_await http::async_read_some(x.upstream->stream, x.upstream->buffer, parser, withError(read_ec));
            upstream_deadline.disarm();
            if (read_ec == http::error::need_buffer) read_ec = {};
            if (read_ec == http::error::end_of_stream || read_ec == asio::error::eof)
                read_ec = {};  // close-delimited end
            if (read_ec) {
                upstream_ok = false;
                const bool timed_out = upstream_deadline.expired();
                if (timed_out) x.pool.recordTimeout(UpstreamPhase::Response);
                log::debug("upstream body read failed on ", x.pool.clusterName(), ": ", read_ec.message());
                // Nothing sent yet: the client can still be told. Else it sees a truncated
                // response, and closing is the only honest signal.
                if (!sent_any) {
                    x.upstream.reset();
                    if (timed_out)
                        co_return ExchangeFailure::answer(504, "upstream response timeout");
                    log::warn("cluster ", x.pool.clusterName(), ": response body refused by the parser (",
                              read_ec.message(), "); answering 502");
                    co_return ExchangeFailure::answer(502, "bad response from upstream");
                }
                ec = read_ec;
                break;
            }
            body.size = kBodyChunk - body.size;
            body.data = body.size ? response_chunk.get() : nullptr;  // see sendRequest
            body.more = !parser.is_done();
        } else {
            body.data = nullptr;
            body.size = 0;
            body.more = false;
        }
        deadline_.arm(config.timeouts.send, client_.socket());
        response_bytes_ += co_await http::async_write(client_, serializer, withError(ec));
        deadline_.disarm();
        if (ec == http::error::need_buffer) ec = {};
        sent_any = true;
        if (ec) upstream_ok = false;  // a client that stopped reading: the upstream side is abandoned
    }
    finishRequest(x.route, status);
    const bool clean_end = upstream_ok && upstream_keep_alive && parser.is_done() &&
                           x.response_framing.kind != http1::BodyKind::UntilClose;
    if (clean_end && x.upstream->buffer.size() == 0)
        UpstreamPool::release(std::move(x.upstream));
    else if (clean_end)
        log::warn("cluster ", x.pool.clusterName(), " endpoint ", x.upstream->endpoint->label,
                  ": bytes after the end of a response; upstream connection closed");
    if (ec) co_return ExchangeFailure::clientGone();
    x.next = client_keep_alive ? Next::KeepAlive : Next::Close;
    co_return std::nullopt;
}

awaitable<std::optional<HttpConnection::ExchangeFailure>> HttpConnection::tunnel(Exchange& x) {
    auto& response = x.response->get();
    eraseHopByHop(response, true);
    response.set(http::field::connection, "Upgrade");
    response.set("x-hotgate-version", snapshot_->version);
    http::response_serializer<http::buffer_body> serializer{response};
    error_code ec;
    response_bytes_ += co_await http::async_write_header(client_, serializer, withError(ec));
    finishRequest(x.route, 101);
    if (ec) co_return ExchangeFailure::clientGone();
    // Bytes each side sent right behind its header belong to the tunnel.
    if (x.upstream->buffer.size() > 0) co_await asio::async_write(client_, x.upstream->buffer.data(), withError(ec));
    if (!ec && buffer_.size() > 0) co_await asio::async_write(x.upstream->stream, buffer_.data(), withError(ec));
    x.upstream->buffer.consume(x.upstream->buffer.size());
    buffer_.consume(buffer_.size());
    if (ec) co_return ExchangeFailure::clientGone();
    phase_ = Phase::Tunneling;
    co_await runTunnel(client_, x.upstream->stream);
    x.next = Next::Close;
    co_return std::nullopt;
}

awaitable<HttpConnection::Next> HttpConnection::answerFailure(Exchange& x, ExchangeFailure failure) {
    // Failed: no longer in flight (max_requests) while the client is answered. (Assigned, not
    // reset(): GCC 12 then warns of a mismatched delete of this coroutine's frame.)
    x.request_slot = ClusterSlot();
    switch (failure.kind) {
        case ExchangeFailure::Kind::ClientGone: co_return Next::Close;
        case ExchangeFailure::Kind::RequestBody: {
            HOTGATE_CO_RETURN_AWAIT(rejectBody(failure.ec));
        }
        case ExchangeFailure::Kind::Answer: break;
    }
    // An overflow names its limit in x-hotgate-overflow. (Named first: GCC 12 mishandles
    // temporaries in a co_await's arguments, see asio.h.)
    std::optional<ExtraField> overflow;
    if (failure.overflow)
        overflow = ExtraField{std::string(kOverflowField), std::string(clusterLimitName(*failure.overflow))};
    HOTGATE_CO_RETURN_AWAIT(answerError(x.route, failure.status, std::move(failure.text), failure.keep_alive,
                                        x.attempts, std::move(overflow)));
}

}  // namespace hotgate

// Proxying one request to an h2 cluster (docs/http2.md, "h2 upstreams"): the request goes as a
// stream on a shared UpstreamSession, its body is pumped while the response comes back (full
// duplex, as gRPC streaming needs), and the response is relayed to the client as HTTP/1.1 with
// the upstream's trailer fields in the last chunk (an h2 client's bridge turns them back into a
// trailer HEADERS frame). A stream the endpoint did not process (REFUSED_STREAM, or after its
// GOAWAY) is sent once more, whatever the retry settings; a failed connect follows them.
#include <limits>

#include "observability/logging.h"
#include "proxy/exchange.h"
#include "proxy/forwarding_headers.h"
#include "proxy/h2/grpc_status.h"
#include "proxy/h2/upstream_session.h"

namespace hotgate {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kBodyChunk = 32 * 1024;
constexpr std::size_t kRequestBuffered = 64 * 1024;  // request body held for nghttp2 at most

// The request as HTTP/2 fields (RFC 9113 8.3.1): pseudo-fields from the request line and Host,
// then the others lower-case without the connection-specific ones (8.2.2); gRPC gets
// "te: trailers", which its servers require.
std::vector<h2::Field> requestFields(const http::request_header<>& request, bool tls, bool grpc) {
    std::vector<h2::Field> fields;
    fields.reserve(8 + std::distance(request.begin(), request.end()));
    fields.push_back({":method", std::string(request.method_string())});
    fields.push_back({":scheme", tls ? "https" : "http"});
    fields.push_back({":authority", std::string(request[http::field::host])});
    fields.push_back({":path", std::string(request.target())});
    for (const auto& field : request) {
        std::string name = h2::lower(field.name_string());
        if (field.name() == http::field::host || h2::connectionSpecific(name)) continue;
        fields.push_back({std::move(name), std::string(field.value())});
    }
    if (grpc) fields.push_back({"te", "trailers"});
    return fields;
}

// Waits for a change signalled on `timer` (cancel()) for `timeout` at most; false when it
// timed out. Callers check their condition before each wait: nothing else runs in between.
awaitable<bool> awaitSignal(asio::steady_timer& timer, Clock::duration timeout) {
    timer.expires_after(timeout);
    error_code ec;
    co_await timer.async_wait(withError(ec));
    co_return ec == asio::error::operation_aborted;
}

}  // namespace

// The request body pump of one h2 stream (runs beside the response relay).
struct HttpConnection::Http2Pump {
    explicit Http2Pump(const asio::any_io_executor& executor) : done(executor) {}
    bool running = false;
    bool stopped = false;    // finishPump() ended it: its read's error is no client error
    bool read_more = false;  // body bytes beyond the first piece were read: the request is no longer in hand
    error_code ec;           // reading the client's body failed
    asio::steady_timer done;  // cancelled when the pump returns
};

awaitable<void> HttpConnection::pumpToHttp2(Exchange& x, std::shared_ptr<h2::UpstreamSession> session,
                                            std::int32_t id, std::shared_ptr<h2::UpstreamStream> stream,
                                            std::shared_ptr<Http2Pump> pump) {
    const auto body_read = snapshot_->config->timeouts.body_read;
    Deadline deadline(client_.get_executor());
    auto chunk = std::make_unique_for_overwrite<char[]>(kBodyChunk);
    while (!x.parser.is_done() && !stream->closed) {
        if (stream->request.size() >= kRequestBuffered) {
            co_await awaitSignal(stream->request_signal, body_read);  // nghttp2 takes it as the window opens
            continue;
        }
        auto& body = x.parser.get().body();
        body.data = chunk.get();
        body.size = kBodyChunk;
        error_code ec;
        deadline.arm(body_read, client_.socket());
        co_await http::async_read_some(client_, buffer_, x.parser, withError(ec));
        deadline.disarm();
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
            if (!pump->stopped) {
                pump->ec = deadline.expired() ? error_code(asio::error::timed_out) : ec;
                session->reset(id, NGHTTP2_CANCEL);
            }
            break;
        }
        if (stream->closed) break;
        const std::size_t n = kBodyChunk - body.size;
        stream->request.bytes.append(chunk.get(), n);
        pump->read_more = pump->read_more || n > 0;
        stream->request.end = x.parser.is_done();
        session->resumeRequest(id);
    }
    pump->running = false;
    pump->done.cancel();
}

awaitable<std::optional<HttpConnection::ExchangeFailure>> HttpConnection::exchangeOverHttp2(Exchange& x) {
    const Config& config = *snapshot_->config;
    if (x.upgrade)
        co_return ExchangeFailure::answer(501, "cluster " + x.pool.clusterName() +
                                                   " speaks h2: WebSocket upgrades need an http1 cluster");
    x.pool.bindCounts(context_.cluster_counts);
    const RetryConfig& retries = x.pool.retries();
    if (const std::uint64_t max_requests = x.pool.limits().max_requests; max_requests != 0) {
        x.request_slot = ClusterSlot(x.pool.counts(), ClusterLimit::MaxRequests, max_requests);
        if (!x.request_slot) {
            x.pool.series().overflows[static_cast<std::size_t>(ClusterLimit::MaxRequests)]->Increment();
            co_return ExchangeFailure::overflowed(ClusterLimit::MaxRequests,
                                                  x.pool.overflowText(ClusterLimit::MaxRequests), false);
        }
    }
    x.pool.budget().recordRequest(request_started_ == Clock::time_point{} ? Clock::now() : request_started_);
    auto& request = x.parser.get();
    if (request.count(http::field::host) == 0) request.set(http::field::host, x.pool.clusterName());
    const bool grpc = grpc_request_ || grpc::isGrpcRequest(request);  // an HTTP/1.1 client may send gRPC too
    // grpc-timeout bounds the whole exchange (and goes on to the endpoint, which bounds its work).
    x.stream_deadline = Clock::time_point::max();
    if (grpc) {
        if (auto timeout = grpc::parseTimeout(request["grpc-timeout"])) x.stream_deadline = Clock::now() + *timeout;
    }
    const auto fields = requestFields(request, x.pool.upstreamTls(), grpc);
    bool unprocessed_retry_used = false;
    std::optional<ExchangeFailure> previous;
    for (;;) {
        ++x.attempts;
        auto acquisition =
            co_await x.pool.acquireHttp2(x.choice, config.timeouts.upstream_connect, config.timeouts.upstream_response);
        if (acquisition.overflow) {
            x.pool.series().overflows[static_cast<std::size_t>(*acquisition.overflow)]->Increment();
            co_return ExchangeFailure::overflowed(*acquisition.overflow, acquisition.error, false);
        }
        std::optional<TryFailure> failure;
        ExchangeFailure answer = ExchangeFailure::answer(acquisition.error_status, acquisition.error);
        std::shared_ptr<h2::UpstreamStream> stream;
        std::shared_ptr<Http2Pump> pump;
        if (!acquisition.session) {
            if (!acquisition.failure) co_return previous ? *previous : answer;
            failure = acquisition.failure;
        } else {
            auto session = acquisition.session;
            stream = std::make_shared<h2::UpstreamStream>(client_.get_executor());
            stream->request.bytes.assign(x.request_chunk.get(), x.first_piece);
            stream->request.end = x.parser.is_done();
            const bool with_body = x.first_piece > 0 || !x.parser.is_done();
            x.startTryClock(session->endpoint().get());
            const std::int32_t id = session->open(fields, with_body, stream);
            pump = std::make_shared<Http2Pump>(client_.get_executor());
            if (id != 0 && !x.parser.is_done()) {
                pump->running = true;
                asio::co_spawn(client_.get_executor(), pumpToHttp2(x, session, id, stream, pump), asio::detached);
            }
            // The response head, within timeouts.upstream_response (and grpc-timeout).
            bool timed_out = false;
            while (id != 0 && !stream->head_done && !stream->closed) {
                const auto now = Clock::now();
                const auto until = std::min<Clock::time_point>(now + config.timeouts.upstream_response,
                                                                x.stream_deadline);
                if (until <= now || !co_await awaitSignal(stream->signal, until - now)) {
                    timed_out = !stream->head_done && !stream->closed;
                    break;
                }
            }
            if (timed_out) session->reset(id, NGHTTP2_CANCEL);
            if (stream->head_done) {
                x.stopTryClock();
                x.pool.recordOutcome(*session->endpoint(), stream->status >= 502 && stream->status <= 504
                                                               ? TryOutcome::GatewayError
                                                               : TryOutcome::Success);
                auto relayed = co_await relayHttp2Response(x, *session, id, *stream, grpc);
                co_await finishPump(*pump);
                co_return relayed;
            }
            co_await finishPump(*pump);
            if (pump->ec) co_return ExchangeFailure::requestBody(pump->ec);
            if (timed_out) {
                x.pool.recordTimeout(UpstreamPhase::Response);
                x.pool.recordOutcome(*session->endpoint(), TryOutcome::GatewayError);
                co_return ExchangeFailure::answer(504, Clock::now() >= x.stream_deadline ? "grpc-timeout passed"
                                                                                       : "upstream response timeout");
            }
            const bool in_hand = !pump->read_more;
            if (stream->unprocessed && in_hand && !unprocessed_retry_used) {
                unprocessed_retry_used = true;  // not acted on: once more, like a stale pooled connection
                --x.attempts;
                continue;
            }
            x.pool.recordOutcome(*session->endpoint(), TryOutcome::GatewayError);
            failure = TryFailure::ClosedBeforeResponse;
            answer = ExchangeFailure::answer(502, "upstream reset the stream before responding (HTTP/2 error " +
                                                      std::to_string(stream->error) + ")");
        }
        const bool in_hand = !pump || !pump->read_more;
        const RetryFacts facts{isIdempotent(x.method) || request.count("idempotency-key") > 0, in_hand, false};
        const auto condition = retryCondition(*failure, facts);
        const bool retry = condition && retries.allows(*condition) && x.attempts < retries.attempts;
        if (!retry || !x.pool.budget().spend(Clock::now(), retries.budget_percent)) {
            if (retry) x.pool.series().retries_over_budget->Increment();
            co_return answer;
        }
        x.pool.series().retries[static_cast<std::size_t>(*condition)]->Increment();
        previous = answer;
        if (acquisition.endpoint) x.choice.tried.push_back(*acquisition.endpoint);
        asio::steady_timer backoff(client_.get_executor());
        backoff.expires_after(backoffDelay(retries.backoff, x.attempts, x.pool.random()));
        error_code ignored;
        co_await backoff.async_wait(withError(ignored));
    }
}

awaitable<void> HttpConnection::finishPump(Http2Pump& pump) {
    if (!pump.running) co_return;
    // The response is over while the client still sends: stop reading its body (the
    // connection then closes, as the rest of the body is unread).
    pump.stopped = true;
    error_code ignored;
    client_.socket().cancel(ignored);
    while (pump.running) co_await awaitSignal(pump.done, std::chrono::hours(1));
}

awaitable<std::optional<HttpConnection::ExchangeFailure>> HttpConnection::relayHttp2Response(
    Exchange& x, h2::UpstreamSession& session, std::int32_t id, h2::UpstreamStream& stream, bool grpc) {
    const Config& config = *snapshot_->config;
    http::response<http::empty_body> response{static_cast<http::status>(stream.status), 11};
    for (const auto& field : stream.head) response.insert(field.name, field.value);
    eraseHopByHop(response, false);
    if (stream.status >= 500) response.erase(kRetryableField);
    response.set("x-hotgate-version", snapshot_->version);
    if (x.attempts > 1) response.set(kAttemptsField, std::to_string(x.attempts));
    // Framing: none for HEAD, 204 and 304, and for a response already whole without a body (a
    // gRPC Trailers-Only response stays one HEADERS frame on an h2 client); the upstream's
    // content-length when it gave one; else chunked (ended by closing for HTTP/1.0), which
    // carries the trailer fields.
    http1::BodyFraming framing = http1::BodyFraming::chunked();
    const bool no_body = x.method == http::verb::head || stream.status == 204 || stream.status == 304;
    const auto length_field = response[http::field::content_length];
    const auto length = length_field.empty() ? std::nullopt : http1::parseContentLength(length_field);
    if (no_body) {
        framing = http1::BodyFraming::none();
    } else if (stream.ended && stream.body.empty()) {
        framing = http1::BodyFraming::ofLength(0);
    } else if (length) {
        framing = http1::BodyFraming::ofLength(*length);
    } else if (x.client_version < 11) {
        framing = http1::BodyFraming::untilClose();
    }
    const bool chunked = framing.kind == http1::BodyKind::Chunked;
    bool client_keep_alive = x.keep_alive && framing.kind != http1::BodyKind::UntilClose && x.parser.is_done();
    client_keep_alive = shouldKeepAlive(client_keep_alive);
    http1::applyFraming(response, framing);
    response.keep_alive(client_keep_alive);
    error_code ec;
    {
        http::response_serializer<http::empty_body> serializer{response};
        deadline_.arm(config.timeouts.send, client_.socket());
        response_bytes_ += co_await http::async_write_header(client_, serializer, withError(ec));
        deadline_.disarm();
    }
    std::uint32_t grpc_code = grpc::statusOf(stream.head, stream.trailers);
    bool upstream_failed = false;
    std::string out;
    while (!ec) {
        if (!stream.body.empty()) {
            out.clear();
            if (chunked) out = h2::chunkHeader(stream.body.size());
            out.append(stream.body);
            if (chunked) out.append(h2::kChunkEnd);
            const std::size_t taken = stream.body.size();
            stream.body.clear();
            deadline_.arm(config.timeouts.send, client_.socket());
            response_bytes_ += co_await asio::async_write(client_, asio::buffer(out), withError(ec));
            deadline_.disarm();
            session.consume(id, taken);
            continue;
        }
        if (stream.ended || no_body) break;
        if (stream.closed) {
            upstream_failed = true;  // reset mid-response: the client sees it truncated
            break;
        }
        // A stream may be quiet between messages; one quiet for timeouts.idle, or past its
        // grpc-timeout, is ended.
        const auto now = Clock::now();
        const auto until = std::min<Clock::time_point>(now + config.timeouts.idle, x.stream_deadline);
        if (until <= now || !co_await awaitSignal(stream.signal, until - now)) {
            if (stream.body.empty() && !stream.ended && !stream.closed) {
                session.reset(id, NGHTTP2_CANCEL);
                if (grpc && chunked && Clock::now() >= x.stream_deadline) {
                    // The client hears why: DEADLINE_EXCEEDED in the trailers.
                    stream.trailers = grpc::statusFields(grpc::Code::DeadlineExceeded, "grpc-timeout passed");
                    stream.ended = true;
                    grpc_code = static_cast<std::uint32_t>(grpc::Code::DeadlineExceeded);
                    break;
                }
                upstream_failed = true;
                break;
            }
        }
    }
    if (!ec && !upstream_failed && chunked) {
        out = "0\r\n";
        for (const auto& field : stream.trailers) {
            if (http1::forbiddenInTrailer(http::string_to_field(field.name), field.name)) continue;
            out.append(field.name).append(": ").append(field.value).append("\r\n");
        }
        out.append("\r\n");
        deadline_.arm(config.timeouts.send, client_.socket());
        response_bytes_ += co_await asio::async_write(client_, asio::buffer(out), withError(ec));
        deadline_.disarm();
    }
    if (stream.trailers.size() > 0 && grpc_code == grpc::kNoStatus) grpc_code = grpc::statusOf({}, stream.trailers);
    if (!stream.closed) session.reset(id, NGHTTP2_CANCEL);  // the client left, or the body ended early
    x.relayed_status = stream.status;
    finishRequest(x.route, stream.status);
    if (grpc && grpc_code != grpc::kNoStatus) recordGrpcStatus(x.route, grpc_code);
    if (ec || upstream_failed) co_return ExchangeFailure::clientGone();
    x.next = client_keep_alive ? Next::KeepAlive : Next::Close;
    co_return std::nullopt;
}

}  // namespace hotgate

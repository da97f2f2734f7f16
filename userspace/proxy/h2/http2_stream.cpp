#include "proxy/h2/http2_stream.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "observability/logging.h"
#include "proxy/h2/grpc_status.h"
#include "proxy/h2/http2_session.h"
#include "proxy/h2/nghttp2_support.h"
#include "proxy/serving_context.h"

namespace hotgate::h2 {
namespace {

constexpr std::size_t kFieldOverhead = 32;          // RFC 9113 6.5.2: a field's size is name + value + 32
constexpr std::size_t kResponseBuffered = 64 * 1024;  // response bytes held for the client at most
constexpr std::size_t kBodyChunk = 32 * 1024;
constexpr std::size_t kMaxResponseHead = 64 * 1024;
constexpr int kMaxInterimResponses = 16;

// The fields of `message` after its first `head_fields`, lower-case: the trailer section.
std::vector<Field> trailerFields(const http::response<http::buffer_body>& message, std::ptrdiff_t head_fields) {
    std::vector<Field> trailers;
    auto field = message.begin();
    std::advance(field, head_fields);
    for (; field != message.end(); ++field) {
        trailers.push_back({lower(field->name_string()), std::string(field->value())});
    }
    return trailers;
}

}  // namespace

Http2Stream::Http2Stream(Http2Session& session, std::int32_t id, std::size_t max_header_list)
    : session_(session),
      id_(id),
      max_header_list_(max_header_list),
      bridge_(session.executor()),
      body_signal_(bridge_.get_executor()),
      out_signal_(bridge_.get_executor()),
      stall_(bridge_.get_executor()),
      drain_cut_(bridge_.get_executor()) {}

void Http2Stream::onField(std::string_view name, std::string_view value) {
    header_bytes_ += name.size() + value.size() + kFieldOverhead;
    if (header_bytes_ > max_header_list_) header_list_too_large_ = true;
    if (header_list_too_large_ || headers_done_) return;  // too large: answered 431; trailers: dropped
    if (name == ":method")
        request_.method = value;
    else if (name == ":path")
        request_.path = value;
    else if (name == ":authority")
        request_.authority = value;
    else if (!name.starts_with(':')) {
        if (name == "content-type" && value.starts_with("application/grpc")) grpc_ = true;
        request_.fields.push_back({std::string(name), std::string(value)});
    }
}

void Http2Stream::onHeadersEnd(bool ends_stream) {
    headers_done_ = true;
    ends_at_headers_ = ends_stream;
}

void Http2Stream::onData(const std::uint8_t* data, std::size_t length) {
    if (body_discarded_ || closed_) {
        nghttp2_session_consume(session_.codec(), id_, length);
        return;
    }
    body_in_.append(reinterpret_cast<const char*>(data), length);
    unconsumed_ += length;
    wake(body_signal_);
}

void Http2Stream::onRequestEnd() {
    body_in_end_ = true;
    wake(body_signal_);
}

Http2StreamEnd Http2Stream::onClose() {
    closed_ = true;
    drain_cut_.cancel();
    if (unconsumed_ > 0) nghttp2_session_consume_connection(session_.codec(), std::exchange(unconsumed_, 0));
    error_code ignored;
    bridge_.close(ignored);
    wake(body_signal_);
    wake(out_signal_);
    if (answered_ && out_.end && out_.size() == 0 && !cut_)
        return session_.draining() ? Http2StreamEnd::Drained : Http2StreamEnd::Finished;
    if (cut_) return Http2StreamEnd::Cut;
    return reset_by_client_ ? Http2StreamEnd::ResetByClient : Http2StreamEnd::Cut;
}

awaitable<void> Http2Stream::waitFor(asio::steady_timer& signal) {
    signal.expires_at(asio::steady_timer::time_point::max());
    error_code ignored;
    co_await signal.async_wait(withError(ignored));
}

void Http2Stream::submit(const std::vector<Field>& fields, bool with_body) {
    const auto nva = nameValues(fields);
    nghttp2_data_provider provider{};
    provider.source.ptr = this;
    provider.read_callback = &Http2Stream::readResponse;
    const int rv = nghttp2_submit_response(session_.codec(), id_, nva.data(), nva.size(), with_body ? &provider : nullptr);
    if (rv != 0) log::debug("HTTP/2 stream ", id_, ": response not submitted: ", nghttp2_strerror(rv));
    submitted_ = true;
    if (!with_body) {
        out_.end = true;
        answered_ = true;
    }
    session_.wakeWriter();
}

void Http2Stream::answer(unsigned status, std::string text) {
    const ServingContext& context = session_.context();
    std::vector<Field> fields{{":status", std::to_string(status)},
                              {"content-type", "text/plain"},
                              {"content-length", std::to_string(text.size() + 1)},
                              {"x-hotgate-version", context.version()}};
    out_.bytes = std::move(text) + "\n";
    out_.end = true;
    answered_ = true;
    submit(fields, true);
}

void Http2Stream::cutAtDrain() {
    if (closed_ || cut_) return;
    if (!grpc_ || (answered_ && out_.end)) {
        cut(NGHTTP2_CANCEL);
        return;
    }
    cut_ = true;
    auto status = grpc::statusFields(grpc::Code::Unavailable, "the gateway version serving this stream stopped; retry");
    if (!submitted_) {
        std::vector<Field> fields{{":status", "200"}, {"content-type", "application/grpc"}};
        fields.insert(fields.end(), status.begin(), status.end());
        submit(fields, false);
    } else {
        // What is buffered goes, then the trailers (readResponse); the bridge is no longer read.
        trailers_ = std::move(status);
        out_.end = answered_ = true;
        nghttp2_session_resume_data(session_.codec(), id_);
    }
    session_.wakeWriter();
}

void Http2Stream::startDrainClock() {
    if (stream_drain_.count() == 0 || closed_ || drain_clock_started_) return;
    drain_clock_started_ = true;
    drain_cut_.expires_after(stream_drain_);
    drain_cut_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->cutAtDrain();
    });
}

void Http2Stream::cut(std::uint32_t error_code) {
    if (closed_) return;
    cut_ = true;
    nghttp2_submit_rst_stream(session_.codec(), NGHTTP2_FLAG_NONE, id_, error_code);
    session_.wakeWriter();
}

ssize_t Http2Stream::readResponse(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                                  std::uint32_t* data_flags, nghttp2_data_source* source, void*) {
    auto& stream = *static_cast<Http2Stream*>(source->ptr);
    const ssize_t n = stream.out_.take(buf, length, data_flags);
    if (n == NGHTTP2_ERR_DEFERRED) return n;
    stream.sent_ += static_cast<std::uint64_t>(n);
    if ((*data_flags & NGHTTP2_DATA_FLAG_EOF) && !stream.trailers_.empty()) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        const auto nva = nameValues(stream.trailers_);
        nghttp2_submit_trailer(stream.session_.codec(), stream.id_, nva.data(), nva.size());
    }
    stream.wake(stream.out_signal_);
    return n;
}

awaitable<void> Http2Stream::serve(std::shared_ptr<Http2Stream> self, std::shared_ptr<Http2Session> session) {
    if (closed_) co_return;  // reset before it began
    ServingContext& context = session_.context();
    if (header_list_too_large_) {
        context.metrics.recordRejected(session_.listener(), RejectReason::HeaderTooLarge);
        answer(431, "request header list too large");
        co_return;
    }
    auto request = toHttp1(request_, ends_at_headers_);
    if (!request) {
        context.metrics.recordRejected(session_.listener(), request.error().status == 501 ? RejectReason::Unsupported
                                                                                         : RejectReason::BadRequest);
        answer(request.error().status, request.error().reason);
        co_return;
    }
    // Its route's stream_drain, for a drain that begins while it is open (or began already).
    const auto snapshot = context.current();
    std::string_view host = request_.authority;
    for (const auto& field : request_.fields)
        if (host.empty() && field.name == "host") host = field.value;
    if (const auto route = snapshot->router.match(host, request_.path))
        stream_drain_ = snapshot->config->routes[*route].stream_drain;
    if (session_.draining()) startDrainClock();
    error_code ec;
    bridge_ = session_.takeBridge(ec);
    if (ec || closed_) {
        if (!closed_) answer(503, "no bridge to the HTTP/1.1 engine");
        co_return;
    }
    co_await asio::async_write(bridge_, asio::buffer(request->head), withError(ec));
    if (ec || closed_) {
        if (!closed_) cut(NGHTTP2_INTERNAL_ERROR);
        co_return;
    }
    if (request->body != RequestBody::None)
        asio::co_spawn(bridge_.get_executor(), pumpRequestBody(self, session, request->body), asio::detached);
    else
        body_pumped_ = true;
    beast::flat_buffer in;
    co_await relayResponse(in);
    if (closed_) co_return;
    // The rest goes to the client as fast as its window allows.
    while (!closed_ && !cut_ && (out_.size() > 0 || !answered_))
        if (!co_await awaitSendProgress()) break;
}

awaitable<bool> Http2Stream::awaitSendProgress() {
    const std::uint64_t seen = sent_;
    stall_.expires_after(session_.sendTimeout());
    stall_.async_wait([self = shared_from_this(), seen](const error_code& ec) {
        if (!ec && self->sent_ == seen) self->out_signal_.cancel();
    });
    co_await waitFor(out_signal_);
    stall_.cancel();
    if (closed_ || cut_) co_return false;
    if (sent_ == seen && out_.size() > 0) {
        log::debug("HTTP/2 stream ", id_, ": the client opened no window for ", session_.sendTimeout().count(),
                   " ms; stream reset");
        cut(NGHTTP2_CANCEL);
        co_return false;
    }
    co_return true;
}

awaitable<void> Http2Stream::pumpRequestBody(std::shared_ptr<Http2Stream> self, std::shared_ptr<Http2Session> session,
                                              RequestBody framing) {
    std::string piece;
    for (;;) {
        if (closed_ || body_discarded_) co_return;
        if (!body_in_.empty()) {
            piece.clear();
            if (framing == RequestBody::Chunked) piece = chunkHeader(body_in_.size());
            piece.append(body_in_);
            if (framing == RequestBody::Chunked) piece.append(kChunkEnd);
            const std::size_t taken = body_in_.size();
            body_in_.clear();
            error_code ec;
            co_await asio::async_write(bridge_, asio::buffer(piece), withError(ec));
            if (closed_) co_return;
            // Acknowledged once passed on: the client may send as much again (WINDOW_UPDATE).
            nghttp2_session_consume(session_.codec(), id_, taken);
            unconsumed_ -= taken;
            session_.wakeWriter();
            if (ec) {
                body_discarded_ = true;  // the engine stopped reading (it answered early)
                if (unconsumed_ > 0) nghttp2_session_consume(session_.codec(), id_, std::exchange(unconsumed_, 0));
                co_return;
            }
            continue;
        }
        if (body_in_end_) {
            if (framing == RequestBody::Chunked) {
                error_code ec;
                co_await asio::async_write(bridge_, asio::buffer(kLastChunk), withError(ec));
                if (ec) co_return;
            }
            body_pumped_ = true;
            co_return;
        }
        co_await waitFor(body_signal_);
    }
}

awaitable<void> Http2Stream::relayResponse(beast::flat_buffer& in) {
    std::optional<http::response_parser<http::buffer_body>> parser;
    error_code ec;
    for (int interim = 0;; ++interim) {
        parser.emplace();
        parser->header_limit(static_cast<std::uint32_t>(kMaxResponseHead));
        parser->body_limit(std::numeric_limits<std::uint64_t>::max());
        if (request_.method == "HEAD") parser->skip(true);
        co_await http::async_read_header(bridge_, in, *parser, withError(ec));
        if (closed_) co_return;
        if (ec) {
            log::debug("HTTP/2 stream ", id_, ": bridge response head: ", ec.message());
            cut(NGHTTP2_INTERNAL_ERROR);
            co_return;
        }
        const unsigned status = parser->get().result_int();
        if (status / 100 != 1 || status == 101) break;
        if (interim >= kMaxInterimResponses) {
            cut(NGHTTP2_INTERNAL_ERROR);
            co_return;
        }
        const auto fields = toHttp2(parser->get().base());
        const auto nva = nameValues(fields);
        nghttp2_submit_headers(session_.codec(), NGHTTP2_FLAG_NONE, id_, nullptr, nva.data(), nva.size(), nullptr);
        session_.wakeWriter();
    }
    const bool reusable = parser->get().keep_alive();
    submit(toHttp2(parser->get().base()), !parser->is_done());
    // Fields the parser adds after the head are the chunked body's trailer section.
    const auto head_fields = std::distance(parser->get().begin(), parser->get().end());
    auto chunk = std::make_unique_for_overwrite<char[]>(kBodyChunk);
    while (!parser->is_done()) {
        while (!closed_ && !cut_ && out_.size() >= kResponseBuffered)
            if (!co_await awaitSendProgress()) co_return;
        if (closed_ || cut_) co_return;
        auto& body = parser->get().body();
        body.data = chunk.get();
        body.size = kBodyChunk;
        co_await http::async_read_some(bridge_, in, *parser, withError(ec));
        if (ec == http::error::need_buffer) ec = {};
        if (closed_) co_return;
        if (ec) {
            log::debug("HTTP/2 stream ", id_, ": bridge response body: ", ec.message());
            cut(NGHTTP2_INTERNAL_ERROR);
            co_return;
        }
        out_.bytes.append(chunk.get(), kBodyChunk - body.size);
        if (parser->is_done()) {
            trailers_ = trailerFields(parser->get(), head_fields);
            out_.end = true;
        }
        nghttp2_session_resume_data(session_.codec(), id_);
        session_.wakeWriter();
    }
    out_.end = true;
    answered_ = true;
    nghttp2_session_resume_data(session_.codec(), id_);
    session_.wakeWriter();
    if (reusable && body_pumped_ && in.size() == 0 && !closed_)
        session_.keepBridge(std::move(bridge_));
}

}  // namespace hotgate::h2

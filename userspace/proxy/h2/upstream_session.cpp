#include "proxy/h2/upstream_session.h"

#include <algorithm>
#include <cstring>

#include "observability/logging.h"
#include "proxy/upstream_pool.h"

namespace hotgate::h2 {
namespace {

constexpr std::size_t kReadSize = 16 * 1024;
constexpr std::size_t kWriteBatch = 64 * 1024;
// A stream may hold this much response unread by its client; the connection four times that.
constexpr std::uint32_t kStreamWindow = 1024 * 1024;
constexpr std::chrono::seconds kIdleClose{60};

UpstreamSession& sessionOf(void* user_data) { return *static_cast<UpstreamSession*>(user_data); }

}  // namespace

UpstreamSession::UpstreamSession(std::unique_ptr<UpstreamConnection> connection, std::uint64_t max_streams,
                                 std::chrono::milliseconds write_timeout)
    : connection_(std::move(connection)),
      max_streams_(max_streams),
      write_timeout_(write_timeout),
      write_deadline_(connection_->stream.get_executor()),
      write_signal_(connection_->stream.get_executor()),
      idle_close_(connection_->stream.get_executor()) {
    CallbacksHandle callbacks;
    nghttp2_session_callbacks_set_on_header_callback(callbacks.callbacks, &UpstreamSession::onHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks.callbacks, &UpstreamSession::onFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks.callbacks, &UpstreamSession::onDataChunkRecv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks.callbacks, &UpstreamSession::onStreamClose);
    OptionsHandle options;
    nghttp2_option_set_no_auto_window_update(options.option, 1);
    nghttp2_option_set_no_closed_streams(options.option, 1);
    // Until the endpoint's SETTINGS say otherwise, assume it takes what we would send.
    nghttp2_option_set_peer_max_concurrent_streams(options.option, static_cast<std::uint32_t>(max_streams));
    nghttp2_session_client_new2(&codec_, callbacks.callbacks, this, options.option);
}

UpstreamSession::~UpstreamSession() { nghttp2_session_del(codec_); }

const std::shared_ptr<UpstreamEndpoint>& UpstreamSession::endpoint() const { return connection_->endpoint; }

void UpstreamSession::start() {
    const nghttp2_settings_entry entries[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow},
    };
    nghttp2_submit_settings(codec_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
    nghttp2_session_set_local_window_size(codec_, NGHTTP2_FLAG_NONE, 0, static_cast<std::int32_t>(4 * kStreamWindow));
    auto self = shared_from_this();
    asio::co_spawn(connection_->stream.get_executor(), writeLoop(self), asio::detached);
    asio::co_spawn(connection_->stream.get_executor(), readLoop(self), asio::detached);
    armIdleClose();
}

bool UpstreamSession::hasFreeStream() const {
    if (!usable()) return false;
    const std::uint32_t remote =
        nghttp2_session_get_remote_settings(codec_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    return streams_.size() < std::min<std::uint64_t>(max_streams_, remote);
}

UpstreamStream* UpstreamSession::streamOf(std::int32_t id) {
    const auto found = streams_.find(id);
    return found == streams_.end() ? nullptr : found->second.get();
}

std::int32_t UpstreamSession::open(const std::vector<Field>& fields, bool with_body,
                                   std::shared_ptr<UpstreamStream> stream) {
    const auto nva = nameValues(fields);
    nghttp2_data_provider provider{};
    provider.source.ptr = stream.get();
    provider.read_callback = &UpstreamSession::readRequest;
    std::int32_t id = 0;
    if (usable())
        id = nghttp2_submit_request(codec_, nullptr, nva.data(), nva.size(), with_body ? &provider : nullptr,
                                    stream.get());
    if (id <= 0) {
        log::debug("h2 upstream ", endpoint()->label, ": stream not opened: ",
                   id < 0 ? nghttp2_strerror(id) : "connection ended");
        stream->closed = stream->unprocessed = true;
        stream->error = NGHTTP2_REFUSED_STREAM;
        stream->wakeAll();
        return 0;
    }
    streams_.emplace(id, std::move(stream));
    idle_close_.cancel();
    wakeWriter();
    return id;
}

void UpstreamSession::resumeRequest(std::int32_t id) {
    if (ended_ || !streamOf(id)) return;
    nghttp2_session_resume_data(codec_, id);
    wakeWriter();
}

void UpstreamSession::consume(std::int32_t id, std::size_t bytes) {
    if (ended_ || bytes == 0) return;
    if (streamOf(id))
        nghttp2_session_consume(codec_, id, bytes);
    else
        nghttp2_session_consume_connection(codec_, bytes);
    wakeWriter();
}

void UpstreamSession::reset(std::int32_t id, std::uint32_t error_code) {
    if (ended_ || !streamOf(id)) return;
    nghttp2_submit_rst_stream(codec_, NGHTTP2_FLAG_NONE, id, error_code);
    wakeWriter();
}

ssize_t UpstreamSession::readRequest(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                                     std::uint32_t* data_flags, nghttp2_data_source* source, void*) {
    auto& stream = *static_cast<UpstreamStream*>(source->ptr);
    const ssize_t n = stream.request.take(buf, length, data_flags);
    if (n != NGHTTP2_ERR_DEFERRED) stream.request_signal.cancel();  // the exchange may read more of the client's body
    return n;
}

awaitable<void> UpstreamSession::readLoop(std::shared_ptr<UpstreamSession> self) {
    std::vector<std::uint8_t> buffer(kReadSize);
    while (!ended_) {
        error_code ec;
        const std::size_t n = co_await connection_->stream.async_read_some(asio::buffer(buffer), withError(ec));
        if (ended_) break;
        if (ec) {
            log::debug("h2 upstream ", endpoint()->label, ": read: ", ec.message());
            break;
        }
        const auto consumed = nghttp2_session_mem_recv(codec_, buffer.data(), n);
        if (consumed < 0) {
            log::warn("h2 upstream ", endpoint()->label, ": ", nghttp2_strerror(static_cast<int>(consumed)),
                      "; connection closed");
            break;
        }
        wakeWriter();
    }
    end();
}

awaitable<void> UpstreamSession::writeLoop(std::shared_ptr<UpstreamSession> self) {
    std::string out;
    while (!ended_) {
        out.clear();
        while (out.size() < kWriteBatch) {
            const std::uint8_t* data = nullptr;
            const auto n = nghttp2_session_mem_send(codec_, &data);
            if (n < 0) {
                log::warn("h2 upstream ", endpoint()->label, ": ", nghttp2_strerror(static_cast<int>(n)));
                end();
                co_return;
            }
            if (n == 0) break;
            out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
        }
        if (!out.empty()) {
            error_code ec;
            write_deadline_.arm(write_timeout_, connection_->stream.socket());
            co_await asio::async_write(connection_->stream, asio::buffer(out), withError(ec));
            write_deadline_.disarm();
            if (ec) {
                if (!ended_)
                    log::debug("h2 upstream ", endpoint()->label, ": write: ",
                               write_deadline_.expired() ? "timed out" : ec.message());
                end();
                co_return;
            }
            continue;
        }
        if (nghttp2_session_want_write(codec_)) continue;
        if (nghttp2_session_want_read(codec_) == 0) {
            end();  // GOAWAY exchanged and no stream left
            co_return;
        }
        write_signal_.expires_at(asio::steady_timer::time_point::max());
        error_code ignored;
        co_await write_signal_.async_wait(withError(ignored));
    }
}

void UpstreamSession::end() {
    if (ended_) return;
    ended_ = true;
    error_code ignored;
    connection_->stream.socket().cancel(ignored);
    connection_->stream.socket().close(ignored);
    write_signal_.cancel();
    idle_close_.cancel();
    // Streams still open end here; one whose HEADERS may never have been processed is marked so.
    const std::int32_t last = nghttp2_session_get_last_proc_stream_id(codec_);
    for (auto& [id, stream] : streams_) {
        stream->closed = true;
        if (!stream->ended) {
            if (stream->error == 0) stream->error = NGHTTP2_CONNECT_ERROR;
            if (going_away_ && id > last) stream->unprocessed = true;
        }
        stream->wakeAll();
    }
    streams_.clear();
    auto& sessions = connection_->endpoint->h2;
    std::erase_if(sessions, [this](const std::shared_ptr<UpstreamSession>& session) { return session.get() == this; });
    wakeWaiter();
}

void UpstreamSession::armIdleClose() {
    idle_close_.expires_after(kIdleClose);
    idle_close_.async_wait([weak = weak_from_this()](const error_code& ec) {
        auto self = weak.lock();
        if (ec || !self || !self->streams_.empty()) return;
        self->going_away_ = true;  // the writer ends the session once the GOAWAY is out
        nghttp2_session_terminate_session(self->codec_, NGHTTP2_NO_ERROR);
        self->wakeWriter();
    });
}

void UpstreamSession::wakeWaiter() {
    auto& waiters = connection_->endpoint->h2_waiters;
    if (!waiters.empty()) waiters.front()->cancel();
}

int UpstreamSession::onHeader(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                              std::size_t namelen, const std::uint8_t* value, std::size_t valuelen, std::uint8_t,
                              void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    UpstreamStream* stream = sessionOf(user_data).streamOf(frame->hd.stream_id);
    if (!stream) return 0;
    const std::string_view field_name(reinterpret_cast<const char*>(name), namelen);
    const std::string_view field_value(reinterpret_cast<const char*>(value), valuelen);
    if (stream->head_done) {
        if (!field_name.starts_with(':')) stream->trailers.push_back({std::string(field_name), std::string(field_value)});
    } else if (field_name == ":status") {
        stream->status = 0;
        for (const char c : field_value) stream->status = stream->status * 10 + static_cast<unsigned>(c - '0');
    } else if (!field_name.starts_with(':')) {
        stream->head.push_back({std::string(field_name), std::string(field_value)});
    }
    return 0;
}

int UpstreamSession::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    UpstreamSession& session = sessionOf(user_data);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        // Streams above its last stream id are closed by nghttp2 as REFUSED_STREAM (unprocessed).
        session.going_away_ = true;
        session.wakeWaiter();
        return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    UpstreamStream* stream = session.streamOf(frame->hd.stream_id);
    if (!stream) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && !stream->head_done) {
        if (stream->status / 100 == 1) {
            stream->head.clear();  // an interim response: dropped
        } else {
            stream->head_done = true;
        }
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) stream->ended = true;
    stream->wake();
    return 0;
}

int UpstreamSession::onDataChunkRecv(nghttp2_session*, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                                     std::size_t len, void* user_data) {
    UpstreamSession& session = sessionOf(user_data);
    if (UpstreamStream* stream = session.streamOf(stream_id)) {
        stream->body.append(reinterpret_cast<const char*>(data), len);
        stream->wake();
    } else {
        nghttp2_session_consume_connection(session.codec_, len);
    }
    return 0;
}

int UpstreamSession::onStreamClose(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                                   void* user_data) {
    UpstreamSession& session = sessionOf(user_data);
    const auto found = session.streams_.find(stream_id);
    if (found == session.streams_.end()) return 0;
    const auto stream = found->second;
    session.streams_.erase(found);
    stream->closed = true;
    if (!stream->ended) {
        stream->error = error_code != 0 ? error_code : std::uint32_t{NGHTTP2_INTERNAL_ERROR};
        stream->unprocessed = error_code == NGHTTP2_REFUSED_STREAM;
    }
    stream->wakeAll();
    session.wakeWaiter();
    session.wakeWriter();  // with GOAWAY exchanged and no stream left, the writer ends the session
    if (session.streams_.empty() && !session.going_away_) session.armIdleClose();
    return 0;
}

}  // namespace hotgate::h2

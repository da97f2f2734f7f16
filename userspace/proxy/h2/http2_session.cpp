#include "proxy/h2/http2_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "observability/logging.h"
#include "proxy/h2/http2_stream.h"
#include "proxy/h2/nghttp2_support.h"
#include "proxy/http_connection.h"
#include "proxy/worker.h"

namespace hotgate::h2 {
namespace {

// Abuse limits (docs/http2.md). RST_STREAM: 200 at once, 100 a second after; PING, SETTINGS and
// empty DATA frames together: 100 at once, 50 a second after. nghttp2's own RST_STREAM limit
// stays behind ours as a backstop; its other limits are its defaults: 8 CONTINUATION frames a
// header block, 32 settings a SETTINGS frame, 1000 unsent PING/SETTINGS acknowledgements.
constexpr std::uint32_t kResetBurst = 200;
constexpr std::uint32_t kResetsPerSecond = 100;
constexpr std::uint32_t kControlBurst = 100;
constexpr std::uint32_t kControlPerSecond = 50;
// The drain's first phase lasts one round trip (the PING's answer), at most this long.
constexpr std::chrono::milliseconds kDrainNoticeGrace{1000};
constexpr std::chrono::milliseconds kLinger{1000};  // after the final GOAWAY, for the client to close
constexpr std::size_t kReadSize = 16 * 1024;
constexpr std::size_t kIdleReadSize = 512;  // a connection without a stream reads this much at a time
constexpr std::size_t kWriteBatch = 64 * 1024;
constexpr std::size_t kKeptWriteBuffer = 4 * 1024;  // kept between batches; a larger one is freed
constexpr std::size_t kIdleBridges = 16;  // kept per connection at most
constexpr std::chrono::milliseconds kBridgeTrimAfter{1000};
constexpr std::uint8_t kDrainPing[8] = {'h', 'g', 'd', 'r', 'a', 'i', 'n', '1'};

Http2Session& sessionOf(void* user_data) { return *static_cast<Http2Session*>(user_data); }

}  // namespace

Http2Session::Http2Session(Worker& worker, std::size_t listener, TcpOrTlsStream& client,
                           std::optional<asio::ip::address> peer, const Config& config)
    : worker_(worker),
      context_(worker.context()),
      listener_(listener),
      client_(client),
      peer_(std::move(peer)),
      settings_(config.listeners[listener].http2),
      idle_timeout_(config.timeouts.idle),
      header_timeout_(config.timeouts.header_read),
      send_timeout_(config.timeouts.send),
      read_deadline_(client.get_executor()),
      write_deadline_(client.get_executor()),
      write_signal_(client.get_executor()),
      writer_done_(client.get_executor()),
      drain_grace_(client.get_executor()),
      bridge_trim_(client.get_executor()),
      resets_(kResetBurst, kResetsPerSecond, FrameBudget::Clock::now()),
      control_frames_(kControlBurst, kControlPerSecond, FrameBudget::Clock::now()) {
    CallbacksHandle callbacks;
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks.callbacks, &Http2Session::onBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(callbacks.callbacks, &Http2Session::onHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks.callbacks, &Http2Session::onFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks.callbacks, &Http2Session::onDataChunkRecv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks.callbacks, &Http2Session::onStreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks.callbacks, &Http2Session::onFrameSend);
    OptionsHandle options;
    nghttp2_option_set_no_auto_window_update(options.option, 1);
    nghttp2_option_set_no_closed_streams(options.option, 1);
    nghttp2_option_set_stream_reset_rate_limit(options.option, 2 * kResetBurst, 2 * kResetsPerSecond);
    nghttp2_session_server_new2(&codec_, callbacks.callbacks, this, options.option);
}

Http2Session::~Http2Session() { nghttp2_session_del(codec_); }

Http2Stream* Http2Session::streamOf(std::int32_t stream_id) {
    return static_cast<Http2Stream*>(nghttp2_session_get_stream_user_data(codec_, stream_id));
}

awaitable<void> Http2Session::run(std::string already_read, bool drain_began) {
    auto self = shared_from_this();
    const std::uint32_t window = static_cast<std::uint32_t>(settings_.initial_stream_window);
    const nghttp2_settings_entry entries[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, static_cast<std::uint32_t>(settings_.max_concurrent_streams)},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(settings_.max_header_list)},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    nghttp2_submit_settings(codec_, NGHTTP2_FLAG_NONE, entries, std::size(entries));
    // The connection's window: four streams' worth, so one slow stream cannot stall the others.
    const auto connection_window = static_cast<std::int32_t>(std::min<std::uint64_t>(4ULL * window, 0x7fffffff));
    nghttp2_session_set_local_window_size(codec_, NGHTTP2_FLAG_NONE, 0, connection_window);
    writer_running_ = true;
    asio::co_spawn(client_.get_executor(), writeLoop(self), asio::detached);
    // Bytes read before the session began (the preface, perhaps a whole flood) meet the same
    // limits as those read later.
    if (!already_read.empty())
        receive(reinterpret_cast<const std::uint8_t*>(already_read.data()), already_read.size());
    if (drain_began) drain();
    wakeWriter();
    if (!ended_) co_await readLoop();
    end();
    // The writer holds the client stream: wait until it has returned.
    while (writer_running_) {
        writer_done_.expires_at(asio::steady_timer::time_point::max());
        error_code ignored;
        co_await writer_done_.async_wait(withError(ignored));
    }
    read_deadline_.disarm();
    write_deadline_.disarm();
    drain_grace_.cancel();
    bridge_trim_.cancel();
    if (final_goaway_sent_) co_await lingerAfterGoaway();
    // Streams still open are cut; their bridges close, and so do the idle ones.
    for (auto& [id, stream] : streams_) {
        context_.metrics.recordHttp2Stream(listener_, Http2StreamEnd::Cut);
        stream->onClose();
    }
    streams_.clear();
    for (auto& bridge : idle_bridges_) {
        error_code ignored;
        bridge.close(ignored);
    }
    idle_bridges_.clear();
}

awaitable<void> Http2Session::lingerAfterGoaway() {
    // Closing with unread bytes from the client would send it a reset, which can destroy the
    // GOAWAY still unread on its side: shut the sending side and read until the client closes,
    // for kLinger at most.
    error_code ec;
    if (!client_.isTls()) client_.socket().shutdown(tcp::socket::shutdown_send, ec);
    read_deadline_.arm(kLinger, client_.socket());
    std::vector<std::uint8_t> scratch(kReadSize);
    while (!ec) co_await client_.async_read_some(asio::buffer(scratch), withError(ec));
    read_deadline_.disarm();
}

awaitable<void> Http2Session::readLoop() {
    std::vector<std::uint8_t> buffer;
    while (!ended_ && !finished()) {
        if (streams_.empty() && !idle_deadline_armed_) armIdleDeadline();
        // A connection without a stream reads into a small buffer: an idle one holds little.
        const std::size_t want = streams_.empty() ? kIdleReadSize : kReadSize;
        if (buffer.size() != want) std::vector<std::uint8_t>(want).swap(buffer);
        reading_large_ = want == kReadSize;
        error_code ec;
        const std::size_t n = co_await client_.async_read_some(asio::buffer(buffer), withError(ec));
        reading_large_ = false;
        if (ended_) break;
        if (ec == asio::error::operation_aborted && std::exchange(shrink_read_, false) && !read_deadline_.expired())
            continue;  // the last stream ended during a large read: read again with the small buffer
        shrink_read_ = false;
        if (ec) {
            if (read_deadline_.expired() && streams_.empty()) {
                idle_deadline_armed_ = false;
                terminate(NGHTTP2_NO_ERROR, Http2GoawayReason::Idle);
                continue;  // the writer sends the GOAWAY, then ends the session
            }
            if (read_deadline_.expired()) {  // a stream began as the idle deadline fired
                idle_deadline_armed_ = false;
                continue;
            }
            break;  // the client closed, or the connection failed
        }
        if (receive(buffer.data(), n)) wakeWriter();
    }
}

bool Http2Session::receive(const std::uint8_t* data, std::size_t size) {
    const auto consumed = nghttp2_session_mem_recv(codec_, data, size);
    if (consumed >= 0) return true;
    const int error = static_cast<int>(consumed);
    log::debug("HTTP/2 connection from ", peer_ ? peer_->to_string() : "unknown", ": ", nghttp2_strerror(error));
    if (error == NGHTTP2_ERR_FLOODED)
        terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2GoawayReason::ControlFlood);
    else if (error == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
        terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2GoawayReason::HeaderFlood);
    else if (error != NGHTTP2_ERR_BAD_CLIENT_MAGIC)
        terminate(NGHTTP2_PROTOCOL_ERROR, Http2GoawayReason::ProtocolError);
    else
        end();  // not HTTP/2 at all: nothing to say
    return false;
}

awaitable<void> Http2Session::writeLoop(std::shared_ptr<Http2Session> self) {
    std::string out;
    while (!ended_) {
        out.clear();
        while (out.size() < kWriteBatch) {
            const std::uint8_t* data = nullptr;
            const auto n = nghttp2_session_mem_send(codec_, &data);
            if (n <= 0) break;
            out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
        }
        if (!out.empty()) {
            error_code ec;
            write_deadline_.arm(send_timeout_, client_.socket());
            co_await asio::async_write(client_, asio::buffer(out), withError(ec));
            write_deadline_.disarm();
            if (ec) {
                if (!ended_)
                    log::debug("HTTP/2 connection from ", peer_ ? peer_->to_string() : "unknown",
                               ": write failed: ", write_deadline_.expired() ? "timed out" : ec.message());
                end();
                break;
            }
            continue;
        }
        if (finished()) {
            end();
            break;
        }
        if (nghttp2_session_want_write(codec_)) continue;
        if (out.capacity() > kKeptWriteBuffer) std::string().swap(out);  // an idle connection keeps little
        if (reading_large_ && streams_.empty()) {
            // Nothing is being written: cancelling the socket stops only the read, which starts
            // again with the small buffer.
            shrink_read_ = true;
            error_code ignored;
            client_.socket().cancel(ignored);
        }
        write_signal_.expires_at(asio::steady_timer::time_point::max());
        error_code ignored;
        co_await write_signal_.async_wait(withError(ignored));
    }
    writer_running_ = false;
    writer_done_.cancel();
}

bool Http2Session::finished() const {
    return nghttp2_session_want_read(codec_) == 0 && nghttp2_session_want_write(codec_) == 0;
}

void Http2Session::end() {
    if (ended_) return;
    ended_ = true;
    error_code ignored;
    client_.socket().cancel(ignored);
    write_signal_.cancel();
}

void Http2Session::wakeWriter() { write_signal_.cancel(); }

void Http2Session::armIdleDeadline() {
    // Before its first stream a connection gets the header timeout, like an HTTP/1.1 request.
    read_deadline_.arm(any_stream_ ? idle_timeout_ : header_timeout_, client_.socket());
    idle_deadline_armed_ = true;
    // A connection idle for kBridgeTrimAfter keeps no bridge: their sockets count against the
    // process's open files, and their connections against its memory.
    bridge_trim_.expires_after(kBridgeTrimAfter);
    bridge_trim_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (ec || !self->streams_.empty()) return;
        for (auto& bridge : self->idle_bridges_) {
            error_code ignored;
            bridge.close(ignored);
        }
        self->idle_bridges_.clear();
    });
}

void Http2Session::terminate(std::uint32_t error_code, Http2GoawayReason reason) {
    if (final_goaway_sent_) return;
    final_goaway_sent_ = true;
    context_.metrics.recordHttp2Goaway(listener_, reason);
    nghttp2_session_terminate_session(codec_, error_code);
    wakeWriter();
}

void Http2Session::drain() {
    if (draining_ || ended_ || final_goaway_sent_) return;
    draining_ = true;
    for (auto& [id, stream] : streams_) stream->startDrainClock();
    nghttp2_submit_shutdown_notice(codec_);
    nghttp2_submit_ping(codec_, NGHTTP2_FLAG_NONE, kDrainPing);
    drain_grace_.expires_after(kDrainNoticeGrace);
    drain_grace_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->sendFinalGoaway();
    });
    wakeWriter();
}

void Http2Session::cutStreams() {
    if (ended_) return;
    for (auto& [id, stream] : streams_) stream->cutAtDrain();
    if (!final_goaway_sent_) {
        draining_ = true;
        sendFinalGoaway();
    }
    wakeWriter();
}

void Http2Session::sendFinalGoaway() {
    if (final_goaway_sent_ || ended_) return;
    final_goaway_sent_ = true;
    drain_grace_.cancel();
    context_.metrics.recordHttp2Goaway(listener_, Http2GoawayReason::Drain);
    nghttp2_submit_goaway(codec_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(codec_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    wakeWriter();
}

tcp::socket Http2Session::takeBridge(error_code& ec) {
    if (!idle_bridges_.empty()) {
        tcp::socket bridge = std::move(idle_bridges_.back());
        idle_bridges_.pop_back();
        return bridge;
    }
    tcp::socket ours(client_.get_executor());
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
        ec = error_code(errno, boost::system::system_category());
        log::warn("HTTP/2 bridge: socketpair: ", ec.message());
        return ours;
    }
    // Stream sockets of either family work the same for the HTTP/1.1 engine's reads and writes.
    tcp::socket theirs(client_.get_executor());
    ours.assign(tcp::v4(), fds[0], ec);
    if (ec) {
        ::close(fds[0]);
        ::close(fds[1]);
        return ours;
    }
    theirs.assign(tcp::v4(), fds[1], ec);
    if (ec) {
        ::close(fds[1]);
        error_code ignored;
        ours.close(ignored);
        return ours;
    }
    HttpConnection::Bridged bridged{.tls = client_.isTls()};
    if (bridged.tls) {
        bridged.tls_version = SSL_get_version(client_.ssl());
        if (const char* sni = SSL_get_servername(client_.ssl(), TLSEXT_NAMETYPE_host_name)) bridged.sni = sni;
    }
    worker_.serve(
        std::make_shared<HttpConnection>(worker_, listener_, std::move(theirs), peer_, std::move(bridged)));
    return ours;
}

void Http2Session::keepBridge(tcp::socket bridge) {
    if (ended_ || idle_bridges_.size() >= kIdleBridges) {
        error_code ignored;
        bridge.close(ignored);
        return;
    }
    idle_bridges_.push_back(std::move(bridge));
}

int Http2Session::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Http2Session& session = sessionOf(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto stream =
        std::make_shared<Http2Stream>(session, frame->hd.stream_id, static_cast<std::size_t>(session.settings_.max_header_list));
    nghttp2_session_set_stream_user_data(session.codec_, frame->hd.stream_id, stream.get());
    session.streams_.emplace(frame->hd.stream_id, std::move(stream));
    session.any_stream_ = true;
    if (session.idle_deadline_armed_) {
        session.read_deadline_.disarm();
        session.idle_deadline_armed_ = false;
    }
    return 0;
}

int Http2Session::onHeader(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                           std::size_t namelen, const std::uint8_t* value, std::size_t valuelen, std::uint8_t,
                           void* user_data) {
    Http2Session& session = sessionOf(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    if (Http2Stream* stream = session.streamOf(frame->hd.stream_id))
        stream->onField({reinterpret_cast<const char*>(name), namelen}, {reinterpret_cast<const char*>(value), valuelen});
    return 0;
}

int Http2Session::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Http2Session& session = sessionOf(user_data);
    const auto now = FrameBudget::Clock::now();
    switch (frame->hd.type) {
        case NGHTTP2_HEADERS:
        case NGHTTP2_DATA: {
            Http2Stream* stream = session.streamOf(frame->hd.stream_id);
            if (!stream) break;
            const bool ends = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
            if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
                stream->onHeadersEnd(ends);
                auto held = session.streams_.at(frame->hd.stream_id);
                asio::co_spawn(session.client_.get_executor(), stream->serve(held, session.shared_from_this()),
                               asio::detached);
            } else if (frame->hd.type == NGHTTP2_DATA && frame->hd.length == 0 && !ends &&
                       !session.control_frames_.spend(now)) {
                session.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2GoawayReason::ControlFlood);
            }
            if (ends) stream->onRequestEnd();
            break;
        }
        case NGHTTP2_RST_STREAM:
            if (Http2Stream* stream = session.streamOf(frame->hd.stream_id)) stream->onReset();
            if (!session.resets_.spend(now)) session.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2GoawayReason::RapidReset);
            break;
        case NGHTTP2_PING:
            if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
                if (session.draining_ && std::memcmp(frame->ping.opaque_data, kDrainPing, 8) == 0)
                    session.sendFinalGoaway();  // one round trip after the notice
            } else if (!session.control_frames_.spend(now)) {
                session.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2GoawayReason::ControlFlood);
            }
            break;
        case NGHTTP2_SETTINGS:
            if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && !session.control_frames_.spend(now))
                session.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2GoawayReason::ControlFlood);
            break;
        default: break;
    }
    return 0;
}

int Http2Session::onDataChunkRecv(nghttp2_session*, std::uint8_t, std::int32_t stream_id, const std::uint8_t* data,
                                  std::size_t len, void* user_data) {
    Http2Session& session = sessionOf(user_data);
    if (Http2Stream* stream = session.streamOf(stream_id))
        stream->onData(data, len);
    else
        nghttp2_session_consume_connection(session.codec_, len);  // a stream we no longer serve
    return 0;
}

int Http2Session::onStreamClose(nghttp2_session*, std::int32_t stream_id, std::uint32_t, void* user_data) {
    Http2Session& session = sessionOf(user_data);
    const auto found = session.streams_.find(stream_id);
    if (found == session.streams_.end()) return 0;
    const auto stream = found->second;  // alive until its serve() returns
    session.streams_.erase(found);
    session.context_.metrics.recordHttp2Stream(session.listener_, stream->onClose());
    if (session.streams_.empty() && !session.ended_) session.armIdleDeadline();
    return 0;
}

int Http2Session::onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    Http2Session& session = sessionOf(user_data);
    if (frame->hd.type == NGHTTP2_RST_STREAM && frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM &&
        !session.streamOf(frame->hd.stream_id))
        session.context_.metrics.recordHttp2Stream(session.listener_, Http2StreamEnd::Refused);
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.last_stream_id != (1U << 31) - 1 &&
        !session.final_goaway_sent_) {
        // nghttp2's own: a protocol error of the client, or one of its limits.
        session.final_goaway_sent_ = true;
        session.context_.metrics.recordHttp2Goaway(session.listener_, Http2GoawayReason::ProtocolError);
    }
    return 0;
}

}  // namespace hotgate::h2

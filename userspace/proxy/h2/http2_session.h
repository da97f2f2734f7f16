// Http2Session: one client connection that speaks HTTP/2 (docs/http2.md), from its preface to
// its close, with nghttp2 as the codec. Each request stream is served by an Http2Stream, which
// bridges it to the HTTP/1.1 engine (HttpConnection), so routing, limits, protection, retries,
// metrics and x-hotgate-version are the same for both versions of HTTP.
//
// Contract:
// - Flow control is ours: a stream's DATA is acknowledged (WINDOW_UPDATE) only once passed on,
//   so a connection holds at most its windows of request body.
// - Drain (an upgrade's commit, or shutdown) is two-phase: a GOAWAY shutdown notice and a PING,
//   then, on the PING's answer (one round trip) or after kDrainNoticeGrace, the final GOAWAY
//   with the last stream accepted. Streams in flight finish; the connection closes when none is
//   left (the process's drain timeout bounds them).
// - Abuse limits: see FrameBudget, the listener's http2 settings and the constants in the .cpp;
//   each ends only the abusing connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "config/config.h"
#include "observability/metrics.h"
#include "proxy/asio.h"
#include "proxy/deadline.h"
#include "proxy/h2/frame_budget.h"
#include "proxy/tcp_or_tls_stream.h"

namespace hotgate {
class Worker;
struct ServingContext;
}  // namespace hotgate

namespace hotgate::h2 {

class Http2Stream;

class Http2Session : public std::enable_shared_from_this<Http2Session> {
public:
    // `client` (the connection's stream, after its TLS handshake) must outlive run().
    Http2Session(Worker& worker, std::size_t listener, TcpOrTlsStream& client, std::optional<asio::ip::address> peer,
                 const Config& config);
    ~Http2Session();
    Http2Session(const Http2Session&) = delete;
    Http2Session& operator=(const Http2Session&) = delete;

    // Serves the connection until it ends; `already_read`: bytes read before it was known to be
    // HTTP/2 (the preface). `drain_began`: the worker drains already, so GOAWAY comes first.
    awaitable<void> run(std::string already_read, bool drain_began);

    // Begins the two-phase GOAWAY (see above). Idempotent; worker thread only.
    void drain();
    // The process's drain ran out: every open stream is reset (RST_STREAM CANCEL, counted as
    // cut) and the final GOAWAY sent, if it was not yet. Worker thread only.
    void cutStreams();

    // For its streams (worker thread only).
    nghttp2_session* codec() { return codec_; }
    asio::any_io_executor executor() { return client_.get_executor(); }
    Worker& worker() { return worker_; }
    ServingContext& context() { return context_; }
    std::size_t listener() const { return listener_; }
    const std::optional<asio::ip::address>& peer() const { return peer_; }
    bool clientTls() const { return client_.isTls(); }
    std::chrono::milliseconds sendTimeout() const { return send_timeout_; }
    bool ended() const { return ended_; }
    bool draining() const { return draining_; }
    // There are frames to send: the writer sends them.
    void wakeWriter();
    // A socket to an HTTP/1.1 bridge connection: an idle one this session kept, or a new one
    // whose other end is served as HttpConnection::Bridged. Closed on error (`ec` says why).
    tcp::socket takeBridge(error_code& ec);
    // A bridge at a request boundary, kept for the next stream (or closed past kIdleBridges).
    void keepBridge(tcp::socket bridge);

private:
    // nghttp2 callbacks (user_data is the session).
    static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
    static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                        const std::uint8_t* value, std::size_t valuelen, std::uint8_t flags, void* user_data);
    static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
    static int onDataChunkRecv(nghttp2_session*, std::uint8_t flags, std::int32_t stream_id, const std::uint8_t* data,
                               std::size_t len, void* user_data);
    static int onStreamClose(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user_data);
    static int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data);

    Http2Stream* streamOf(std::int32_t stream_id);
    // Ends the connection now with GOAWAY `error_code` (counted under `reason`), unread frames dropped.
    void terminate(std::uint32_t error_code, Http2GoawayReason reason);
    void sendFinalGoaway();
    awaitable<void> readLoop();
    // Feeds bytes from the client to the codec. A codec error ends the connection with the
    // GOAWAY its kind calls for (docs/http2.md, "Abuse limits"); false when the connection ends.
    bool receive(const std::uint8_t* data, std::size_t size);
    awaitable<void> lingerAfterGoaway();
    awaitable<void> writeLoop(std::shared_ptr<Http2Session> self);
    // Whether nghttp2 is done with the connection: GOAWAY exchanged and no stream left.
    bool finished() const;
    // Stops both loops: reads and writes pending on the socket end.
    void end();
    void armIdleDeadline();

    Worker& worker_;
    ServingContext& context_;
    std::size_t listener_;
    TcpOrTlsStream& client_;
    std::optional<asio::ip::address> peer_;
    Http2Config settings_;
    std::chrono::milliseconds idle_timeout_;
    std::chrono::milliseconds header_timeout_;
    std::chrono::milliseconds send_timeout_;
    nghttp2_session* codec_ = nullptr;
    std::map<std::int32_t, std::shared_ptr<Http2Stream>> streams_;  // open streams
    std::vector<tcp::socket> idle_bridges_;
    Deadline read_deadline_;
    Deadline write_deadline_;
    asio::steady_timer write_signal_;   // cancelled: the writer has work, or the session ended
    asio::steady_timer writer_done_;    // cancelled: the writer has returned
    asio::steady_timer drain_grace_;    // the drain's first phase, at most
    asio::steady_timer bridge_trim_;    // closes the idle bridges of a connection with no stream
    FrameBudget resets_;
    FrameBudget control_frames_;
    bool ended_ = false;
    bool writer_running_ = false;
    bool draining_ = false;
    bool final_goaway_sent_ = false;
    bool idle_deadline_armed_ = false;
    bool reading_large_ = false;  // the read in progress holds the large buffer
    bool shrink_read_ = false;    // ... and was cancelled to read again with the small one
    bool any_stream_ = false;
};

}  // namespace hotgate::h2

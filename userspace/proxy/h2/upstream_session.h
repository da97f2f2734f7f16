// UpstreamSession: one HTTP/2 connection to an endpoint of an h2 cluster (docs/http2.md,
// "h2 upstreams"), shared by many requests' streams, with nghttp2 as the codec. It belongs to
// its endpoint (UpstreamEndpoint::h2) for the worker's life, across snapshots; an exchange
// (h2/upstream_exchange.cpp) opens an UpstreamStream on it and reads the response from it.
//
// Contract:
// - Worker thread only. Callers check hasFreeStream() before open().
// - Flow control is ours for responses: a stream's DATA is acknowledged (consume()) once the
//   exchange has passed it on, so a slow client holds at most a stream window of it here.
// - A stream the endpoint did not process (REFUSED_STREAM, or above the last stream id of its
//   GOAWAY, or on a connection that failed before its HEADERS were written) ends with
//   `unprocessed` set: it may be sent again anywhere, whatever its method.
// - The connection closes when its endpoint said GOAWAY or failed and no stream is left, and
//   after kIdleClose without a stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "proxy/asio.h"
#include "proxy/deadline.h"
#include "proxy/h2/message_translation.h"
#include "proxy/h2/nghttp2_support.h"

namespace hotgate {
struct UpstreamConnection;
struct UpstreamEndpoint;
}  // namespace hotgate

namespace hotgate::h2 {

// One request's stream as the exchange sees it: the request body it still has to send, and
// the response as it arrives. Every change wakes `signal`.
struct UpstreamStream {
    explicit UpstreamStream(const asio::any_io_executor& executor) : signal(executor), request_signal(executor) {}

    // Request body: bytes not yet taken by nghttp2; end once the whole body is in.
    PendingBytes request;

    // Response: the final head (":status" as `status`, the other fields in order; 1xx heads
    // are dropped), DATA not yet passed on, the trailer fields, and how the stream ended.
    unsigned status = 0;
    std::vector<Field> head;
    bool head_done = false;
    std::string body;
    std::vector<Field> trailers;
    bool ended = false;        // END_STREAM received: the response is whole
    bool closed = false;       // nghttp2 is done with the stream
    bool unprocessed = false;  // closed before the endpoint processed it: safe to send again
    std::uint32_t error = 0;   // closed with this HTTP/2 error code (0: not reset)

    asio::steady_timer signal;          // cancelled on every change of the response or the stream's end
    asio::steady_timer request_signal;  // cancelled when nghttp2 takes request bytes, and at the end
    void wake() { signal.cancel(); }
    void wakeAll() {
        signal.cancel();
        request_signal.cancel();
    }
};

class UpstreamSession : public std::enable_shared_from_this<UpstreamSession> {
public:
    // Takes over a connected (and, with TLS, handshaken) connection; start() starts it. A write
    // the endpoint does not take within `write_timeout` ends the connection.
    UpstreamSession(std::unique_ptr<UpstreamConnection> connection, std::uint64_t max_streams,
                    std::chrono::milliseconds write_timeout);
    ~UpstreamSession();
    UpstreamSession(const UpstreamSession&) = delete;
    UpstreamSession& operator=(const UpstreamSession&) = delete;

    // Sends the preface and SETTINGS and starts the read and write loops.
    void start();

    // Whether a new stream may go on it now: usable, and under both its own limit and the
    // endpoint's SETTINGS_MAX_CONCURRENT_STREAMS.
    bool hasFreeStream() const;
    bool usable() const { return !ended_ && !going_away_; }
    std::size_t openStreams() const { return streams_.size(); }

    // Opens a stream with `fields` (pseudo-fields first); the request body follows through
    // `stream->request` and resumeRequest(). Returns the stream id, or 0 when refused
    // (then `stream` is closed and unprocessed).
    std::int32_t open(const std::vector<Field>& fields, bool with_body, std::shared_ptr<UpstreamStream> stream);
    // More request body (or its end) is in the stream's `request`.
    void resumeRequest(std::int32_t id);
    // `bytes` of the stream's response DATA were passed on: the endpoint may send as much again.
    void consume(std::int32_t id, std::size_t bytes);
    // Ends a stream early (RST_STREAM `error_code`), e.g. when the client left.
    void reset(std::int32_t id, std::uint32_t error_code);

    const std::shared_ptr<UpstreamEndpoint>& endpoint() const;

private:
    static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                        const std::uint8_t* value, std::size_t valuelen, std::uint8_t flags, void* user_data);
    static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
    static int onDataChunkRecv(nghttp2_session*, std::uint8_t flags, std::int32_t stream_id, const std::uint8_t* data,
                               std::size_t len, void* user_data);
    static int onStreamClose(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* user_data);
    static ssize_t readRequest(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                               std::uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

    UpstreamStream* streamOf(std::int32_t id);
    awaitable<void> readLoop(std::shared_ptr<UpstreamSession> self);
    awaitable<void> writeLoop(std::shared_ptr<UpstreamSession> self);
    void wakeWriter() { write_signal_.cancel(); }
    // The connection failed or is finished: every open stream ends, the socket closes, and the
    // session leaves its endpoint.
    void end();
    void armIdleClose();
    // A stream ended: a request waiting for a free stream on this endpoint may go on.
    void wakeWaiter();

    std::unique_ptr<UpstreamConnection> connection_;
    std::uint64_t max_streams_;
    std::chrono::milliseconds write_timeout_;
    Deadline write_deadline_;
    nghttp2_session* codec_ = nullptr;
    std::map<std::int32_t, std::shared_ptr<UpstreamStream>> streams_;
    asio::steady_timer write_signal_;
    asio::steady_timer idle_close_;
    bool ended_ = false;
    bool going_away_ = false;  // the endpoint sent GOAWAY: no new stream
};

}  // namespace hotgate::h2

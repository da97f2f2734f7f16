// Http2Stream: one request stream of an Http2Session, served over a bridge to the HTTP/1.1
// engine (docs/http2.md): its request is written there as HTTP/1.1 (message_translation.h),
// its DATA follows as the bridge takes it, and the HTTP/1.1 response read back is submitted as
// HEADERS and DATA, as fast as the client's window allows. What hotgate answers itself (431 for
// a header list over http2.max_header_list, 400 for a request HTTP/1.1 cannot carry, 501 for
// CONNECT) never reaches the bridge.
//
// Contract: the session calls the on*/receive* methods from nghttp2's callbacks; serve() runs as
// its own coroutine from the end of the request's header block; the stream's objects stay
// valid until both serve() has returned and nghttp2 has closed the stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nghttp2/nghttp2.h>

#include "observability/metrics.h"
#include "proxy/asio.h"
#include "proxy/h2/message_translation.h"
#include "proxy/h2/nghttp2_support.h"

namespace hotgate::h2 {

class Http2Session;

class Http2Stream : public std::enable_shared_from_this<Http2Stream> {
public:
    Http2Stream(Http2Session& session, std::int32_t id, std::size_t max_header_list);
    Http2Stream(const Http2Stream&) = delete;
    Http2Stream& operator=(const Http2Stream&) = delete;

    std::int32_t id() const { return id_; }

    // The request's header block, field by field; fields of a trailer block are counted against
    // the limit and dropped (hotgate forwards no request trailers).
    void onField(std::string_view name, std::string_view value);
    // The header block is complete; `ends_stream`: no DATA follows.
    void onHeadersEnd(bool ends_stream);
    void onData(const std::uint8_t* data, std::size_t length);
    void onRequestEnd();
    // The client reset the stream.
    void onReset() { reset_by_client_ = true; }
    // nghttp2 closed the stream: the bridge is dropped, and how it ended is returned (counted).
    Http2StreamEnd onClose();

    // Sends RST_STREAM (counted as cut); nothing once the stream is closed.
    void cut(std::uint32_t error_code);
    // The drain ran out (counted as cut): a gRPC stream ends with grpc-status UNAVAILABLE, which
    // its client may retry (after the response so far, or as a Trailers-Only response); any
    // other gets RST_STREAM CANCEL.
    void cutAtDrain();
    // The session's drain began: a stream whose route sets stream_drain is ended (cutAtDrain)
    // that long from now. Idempotent.
    void startDrainClock();

    // Runs the exchange; started by the session once the header block is complete. `self` and
    // `session` are held by the coroutine's frame from its creation, before it first runs: they
    // keep this stream and session_ alive until it returns.
    awaitable<void> serve(std::shared_ptr<Http2Stream> self, std::shared_ptr<Http2Session> session);

private:
    // nghttp2's data source for the response body.
    static ssize_t readResponse(nghttp2_session*, std::int32_t stream_id, std::uint8_t* buf, std::size_t length,
                                      std::uint32_t* data_flags, nghttp2_data_source* source, void* user_data);
    awaitable<void> pumpRequestBody(std::shared_ptr<Http2Stream> self, std::shared_ptr<Http2Session> session,
                                    RequestBody framing);
    awaitable<void> relayResponse(beast::flat_buffer& in);
    // Answers from hotgate itself (text body), never via the bridge.
    void answer(unsigned status, std::string text);
    void submit(const std::vector<Field>& fields, bool with_body);
    awaitable<void> waitFor(asio::steady_timer& signal);
    // Waits until nghttp2 takes response bytes or the stream ends; false when it ended, or when
    // the client opened no window within the send timeout (zero-window stall: the stream is cut).
    awaitable<bool> awaitSendProgress();
    void wake(asio::steady_timer& signal) { signal.cancel(); }

    Http2Session& session_;
    std::int32_t id_;
    std::size_t max_header_list_;
    std::size_t header_bytes_ = 0;
    bool header_list_too_large_ = false;
    bool headers_done_ = false;
    bool ends_at_headers_ = false;
    RequestFields request_;
    bool grpc_ = false;             // content-type application/grpc
    std::chrono::milliseconds stream_drain_{};  // its route's stream_drain; 0: the process's drain bounds it
    bool drain_clock_started_ = false;

    std::string body_in_;           // request DATA not yet written to the bridge
    std::size_t unconsumed_ = 0;    // received and not yet acknowledged (WINDOW_UPDATE)
    bool body_in_end_ = false;
    bool body_discarded_ = false;   // the bridge is gone: DATA is acknowledged and dropped
    bool body_pumped_ = false;      // the whole request went over the bridge

    PendingBytes out_;              // response bytes for nghttp2 to send; end: the whole response is in
    std::uint64_t sent_ = 0;        // response body bytes nghttp2 has taken
    bool submitted_ = false;        // the response HEADERS were given to nghttp2
    std::vector<Field> trailers_;   // sent after the last DATA (the bridge's chunked trailer fields)

    bool closed_ = false;
    bool reset_by_client_ = false;
    bool cut_ = false;
    bool answered_ = false;         // the whole response was given to nghttp2
    tcp::socket bridge_;
    asio::steady_timer body_signal_;  // cancelled: request DATA came, or the stream closed
    asio::steady_timer out_signal_;   // cancelled: nghttp2 took response bytes, or the stream closed
    asio::steady_timer stall_;        // the send timeout of a stream whose client opens no window
    asio::steady_timer drain_cut_;    // stream_drain, from the drain's start
};

}  // namespace hotgate::h2

// TestUpstream: the HTTP/1.1 + WebSocket server the integration tests put behind hotgate. It
// runs on its own io_context thread on 127.0.0.1:0 and counts what reaches it, so tests can
// tell what the gateway forwarded, how often, and over how many connections.
//
// Endpoints (path and query exactly as received; any method):
//   /echo               body streamed back as received (same Content-Length, or chunked when
//                       the request was chunked); never holds the whole body unless the
//                       reader of the reply is slower than the sender
//   /hash               reads the body streaming, replies "<bytes> <fnv1a64 hex>"
//   /chunked?n=N&size=S chunked reply of N chunks of S bytes; chunk i is S x ('a' + i % 26)
//   /slow?ms=N          waits N ms, then replies "slow\n"
//   /headers            replies the request headers, one "name: value" line each
//   /status/NNN         replies status NNN ("status NNN\n")
//   /ws                 WebSocket echo (text stays text, binary stays binary)
//   /reset              reads the whole request, then closes abortively (SO_LINGER 0, so an
//                       RST) without answering
//   /flaky?key=K&fail=N the first N requests with key K (default N 1, K ""; counted per
//                       upstream) are reset like /reset; later ones reply 200 "flaky ok\n"
//   /halfheader         sends half a status line and headers, then closes
//   /close              replies 200 with Connection: close and closes
//   /interim?n=N        N interim responses first (100 Continue and 103 Early Hints with a
//                       Link header, alternating), then 200 "final\n"
//   anything else       200 "ok <path>\n"
// setForcedStatus() overrides all of these but /ws; setResponseDelay() delays every response.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hotgate::test {

class TestUpstream {
public:
    struct SeenRequest {
        std::string method;
        std::string target;
        std::vector<std::pair<std::string, std::string>> headers;  // names as received

        // Every value of header `name` (case-insensitive), in order.
        std::vector<std::string> values(const std::string& name) const;
        bool has(const std::string& name) const { return !values(name).empty(); }
    };

    // Binds 127.0.0.1:0 and starts serving; port() is 0 when the bind failed.
    TestUpstream();
    // Stops the io_context thread; open connections are dropped.
    ~TestUpstream();

    TestUpstream(const TestUpstream&) = delete;
    TestUpstream& operator=(const TestUpstream&) = delete;

    std::uint16_t port() const;
    std::string address() const { return "127.0.0.1:" + std::to_string(port()); }

    // TCP connections accepted so far.
    std::uint64_t connectionsAccepted() const;
    // TCP connections open now (their session has not ended).
    std::size_t connectionsOpen() const;
    // Requests whose header was read (counted before the body).
    std::uint64_t requestHeadersSeen() const;
    // Requests read completely, header and body (also those then reset: /reset, /flaky).
    std::uint64_t requestsCompleted() const;
    // The headers of every request seen, oldest first.
    std::vector<SeenRequest> requests() const;
    // Requests seen (header read) whose target starts with `target_prefix`.
    std::uint64_t requestsTo(const std::string& target_prefix) const;
    std::optional<SeenRequest> lastRequest() const;

    // Closes the listening socket (new connects are refused) and every open connection.
    // Returns once done on the upstream's thread (bounded wait).
    void stopListening();
    // Closes every open connection (ending their delays and /slow waits), keeps listening.
    void closeConnections();

    // The setters below may be called from any thread. A request takes the forced status once
    // its header is read, and the delay once it is read completely (/echo, /ws: its header).
    //
    // Every response (its first byte; for /ws the 101) is written `delay` after that point, on
    // a timer: other connections are served meanwhile. Resets are not delayed; /slow waits its
    // ms on top. Default 0.
    void setResponseDelay(std::chrono::milliseconds delay);
    // Non-zero: every request but /ws is read completely and answered `status` with body
    // "forced <status>\n", keep-alive as the request asks; /reset and /flaky answer too (and
    // /flaky does not count). 0 (default) turns it off. Throws std::invalid_argument unless
    // 0 or 200..599.
    void setForcedStatus(unsigned status);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hotgate::test

// TestServer: a small in-process Beast server on 127.0.0.1 (its own thread and io_context)
// whose misbehaviour is chosen per test: answer, reset mid-request, close without answering,
// stay silent, close keep-alive connections between requests, or echo WebSocket messages
// (optionally corrupting one).
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>

namespace hotgate::loadgen::test {

struct ServerBehavior {
    enum class Kind {
        kHttp,            // answer every request (status, version header, "ok\n")
        kResetMidRequest, // read the first bytes of a request, then RST
        kCloseOnRequest,  // read a whole request, then close cleanly without answering
        kSilent,          // read a whole request and never answer
        kWebSocketEcho,   // accept a WebSocket and echo every message; decline plain HTTP
    };
    Kind kind = Kind::kHttp;
    unsigned status = 200;
    bool echo_websockets = false;  // kHttp: also accept upgrades and echo, like kWebSocketEcho
    std::uint16_t port = 0;        // 0: any free port
    // Responses (and 101s) carry x-hotgate-version: "A" for the first `switch_after`, then "B".
    std::uint64_t switch_after = std::numeric_limits<std::uint64_t>::max();
    unsigned close_every = 0;    // answer every Nth request of a connection with Connection: close
    unsigned idle_close_ms = 0;  // close a keep-alive connection idle this long (FIN, no notice)
    std::int64_t corrupt_message = -1;  // WebSocket: flip one byte of the Nth echo (0-based, server-wide)
    unsigned close_after_messages = 0;  // WebSocket: send a close frame after this many echoes
};

class TestServer {
public:
    explicit TestServer(ServerBehavior behavior);
    ~TestServer();
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
    std::uint64_t responses() const;  // responses and 101s sent

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::uint16_t port_ = 0;
};

// A loopback port with nothing listening on it (bound, then closed).
std::uint16_t unusedPort();

}  // namespace hotgate::loadgen::test

// WebSocketClient: a Beast WebSocket client for the tunnel tests; every step is bounded by a
// timeout (Beast's sync calls would block forever on a silent peer).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "support/http_client.h"

namespace hotgate::test {

class WebSocketClient {
public:
    explicit WebSocketClient(std::uint16_t port, std::chrono::milliseconds timeout = 10s);
    ~WebSocketClient();

    // Connects and performs the upgrade handshake for `target`. On failure `error()` says which
    // step failed. The 101 response (headers) is kept in handshakeResponse().
    bool handshake(const std::string& target);
    const Response& handshakeResponse() const;

    bool send(const std::string& message, bool binary);
    // Reads one whole message; `binary` tells how it was framed.
    bool receive(std::string& message, bool& binary);
    // Sends a close frame and waits for the peer's.
    bool close();

    const std::string& error() const { return error_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string error_;
};

}  // namespace hotgate::test

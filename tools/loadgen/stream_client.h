// StreamClient: one --streams client: a long-lived WebSocket (Beast) to --stream-path that sends
// a binary message every --stream-interval-ms, each an 8-byte big-endian sequence number and a
// random payload, and checks that every echo comes back whole and in order.
//
// Outcomes: each verified echo is ok (latency = echo round trip); a wrong byte or order is
// stream_mismatch; a close, error, or an echo missing for --timeout-ms before the run ends is
// stream_broken. A failed handshake counts as refused / bad_status / timeout / stream_broken.
// After a failure the client opens a new stream (after a short delay) until the run ends; at
// the end it waits for the outstanding echoes and closes with a normal close frame.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "worker_context.h"

namespace hotgate::loadgen {

class StreamClient {
public:
    explicit StreamClient(WorkerContext& context);

    awaitable<void> run();

    // Where `received` first differs from `expected` ("seq 7 arrived, expected 6", "byte 12 of
    // seq 6 differs", "length 40, expected 41"); empty when they are equal. Public for tests.
    static std::string mismatch(const std::string& expected, const std::string& received);

private:
    struct Sent {
        std::string message;
        Clock::time_point at;
    };
    using Socket = websocket::stream<beast::tcp_stream>;

    awaitable<void> session();
    awaitable<void> readEchoes(Socket& ws, std::deque<Sent>& sent, bool& failed, bool& closing);
    std::string nextMessage();

    WorkerContext& context_;
    std::uint64_t sequence_ = 0;
};

}  // namespace hotgate::loadgen

// Deadline: a timer that cancels a socket's pending operations when it fires, so a timed-out
// read ends with operation_aborted and the connection can still answer (408, 504) instead of
// being closed underneath, as beast::tcp_stream's own expiry does.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "proxy/asio.h"

namespace hotgate {

class Deadline {
public:
    explicit Deadline(const asio::any_io_executor& executor)
        : timer_(executor), state_(std::make_shared<State>()) {}
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;

    // Starts the countdown; replaces any previous one. `socket` must outlive the deadline.
    void arm(std::chrono::steady_clock::duration timeout, tcp::socket& socket) {
        state_->expired = false;
        const std::uint64_t generation = ++state_->generation;
        timer_.expires_after(timeout);
        // The generation check drops a firing that was already queued when disarm() ran: it
        // must not cancel the operation that comes after. The state is shared with the handler
        // so a firing queued just before this object died touches nothing freed; `socket` is
        // only used when the generation still matches, i.e. while its owner is alive.
        timer_.async_wait([state = state_, generation, &socket](const error_code& ec) {
            if (ec || generation != state->generation) return;
            state->expired = true;
            error_code ignored;
            socket.cancel(ignored);
        });
    }

    void disarm() {
        ++state_->generation;
        timer_.cancel();
    }

    ~Deadline() { ++state_->generation; }

    // True when the last armed countdown fired (the pending operation was cancelled by it).
    bool expired() const { return state_->expired; }

private:
    struct State {
        std::uint64_t generation = 0;
        bool expired = false;
    };
    asio::steady_timer timer_;
    std::shared_ptr<State> state_;
};

}  // namespace hotgate

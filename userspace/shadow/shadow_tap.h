// ShadowTap: where workers leave copies of live requests while `gwctl verify` samples them
// (docs/verification.md). Armed with a number of samples (and optionally route names), it takes
// copies until it has that many; disarmed, a request pays one relaxed load. The verifier
// (shadow_verifier.h) takes the copies off on its own thread, after the clients were answered.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hotgate::shadow {

// One live request, as the client sent it.
struct Capture {
    std::string route;   // the name of the route that took it
    std::string method;  // "GET"
    std::string target;  // "/pay?x=1"
    std::string bytes;   // its head and whole body, byte for byte
};

// Whether a request may be mirrored at all: GET and HEAD on any route; any method on a route
// marked `shadow: true` (a non-idempotent one is then answered without an upstream).
bool mirrorable(std::string_view method, bool route_shadow);
// RFC 9110 9.2.2: a method the client may send twice with the effect of once.
bool idempotentMethod(std::string_view method);

class ShadowTap {
public:
    // Starts taking copies: at most `samples`, of the routes named (none named: every route).
    void arm(std::size_t samples, std::vector<std::string> routes);
    // Stops taking copies and drops those not taken off yet.
    void disarm();
    // Request path: false unless armed (one relaxed load).
    bool armed() const { return armed_.load(std::memory_order_relaxed); }
    // Request path, when armed: reserves one of the samples for a request of `route`; false when
    // the route is not sampled or enough were taken. A reserved sample is then offered or
    // released (it could not be copied, e.g. its body was not read in one piece).
    bool reserve(std::string_view route);
    void offer(Capture capture);
    void release();
    // The verifier: the next copy, waiting until `deadline`; none when the time is up or every
    // sample was taken and handed out.
    std::optional<Capture> next(std::chrono::steady_clock::time_point deadline);

private:
    std::atomic<bool> armed_{false};
    std::mutex mutex_;
    std::condition_variable offered_;
    std::size_t wanted_ = 0;    // samples not yet reserved
    std::size_t reserved_ = 0;  // reserved and neither offered nor released
    std::vector<std::string> routes_;
    std::deque<Capture> queue_;
};

}  // namespace hotgate::shadow

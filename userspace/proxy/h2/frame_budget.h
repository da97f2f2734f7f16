// FrameBudget: a token bucket over frames a client may send cheaply but costs the server work
// (docs/http2.md, "Abuse limits"): RST_STREAM (rapid reset, CVE-2023-44487), and PING,
// SETTINGS and empty DATA frames (the 2019 flood CVEs). A connection that runs out is sent
// GOAWAY ENHANCE_YOUR_CALM and closed.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace hotgate::h2 {

class FrameBudget {
public:
    using Clock = std::chrono::steady_clock;

    // `burst` frames at once, refilled at `per_second`.
    FrameBudget(std::uint32_t burst, std::uint32_t per_second, Clock::time_point now)
        : burst_(burst), per_second_(per_second), tokens_(burst), last_(now) {}

    // Spends one frame's token; false when none is left.
    bool spend(Clock::time_point now) {
        const double seconds = std::chrono::duration<double>(now - last_).count();
        if (seconds > 0) {
            tokens_ = std::min<double>(burst_, tokens_ + seconds * per_second_);
            last_ = now;
        }
        if (tokens_ < 1) return false;
        tokens_ -= 1;
        return true;
    }

private:
    std::uint32_t burst_;
    std::uint32_t per_second_;
    double tokens_;
    Clock::time_point last_;
};

}  // namespace hotgate::h2

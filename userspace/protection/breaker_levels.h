// The adaptive circuit breaker's decision (docs/protection.md, reference design 4.3), as a pure
// function of one sample, the baseline and the state before it, so it is tested without clocks
// or traffic. The shared table (breaker_board.h) keeps the state and calls step() once per
// sample_interval per route.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

#include "config/config.h"

namespace hotgate::protection {

enum class BreakerLevel : std::uint8_t {
    L0,  // normal
    L1,  // one signal over its threshold: logged and counted
    L2,  // both over for 2 samples in a row: shed_percent of the requests refused
    L3,  // both over for 3 samples in a row: non-critical routes refused, critical ones as at L2
};

std::string_view levelName(BreakerLevel level);

// One sample of one route: what it saw over its interval.
struct BreakerSample {
    std::uint64_t taken_at_ms = 0;   // CLOCK_MONOTONIC ms at its end
    std::uint32_t interval_ms = 0;   // how long it covered
    std::uint64_t offered = 0;       // requests that reached the route (refused ones included)
    std::uint64_t answered = 0;      // requests whose latency was measured (not refused by protection)
    std::uint64_t p95_us = 0;        // p95 of those latencies (0: none)
    BreakerLevel level = BreakerLevel::L0;  // the level it left the breaker at
};

struct BreakerState {
    BreakerLevel level = BreakerLevel::L0;
    std::uint32_t both_over = 0;  // samples in a row with both signals over
};

// What a sample said, against the baseline.
struct BreakerSignals {
    double qps_ratio = 0;          // 0: no baseline (or too few requests) to compare with
    std::int64_t p95_delta_us = 0;  // current - baseline p95
    bool qps_over = false;
    bool p95_over = false;
    // Requests came but too few were answered to read a p95 (protection refused them): the
    // sampler then holds the previous sample's p95_over, so shedding does not hide the latency.
    bool p95_unknown = false;
};

// The baseline from the samples of the window before `current` (those older than the window
// and those that left the breaker above L0 are left out), then the signals of `current`. When
// the window has too few requests at L0 (an incident longer than the window), every L0 sample
// of `history` is the baseline.
BreakerSignals signalsOf(const BreakerSample& current, std::span<const BreakerSample> history,
                         const CircuitBreakerConfig& config);

// The state after a sample with `signals`: both over for 2 (3) samples in a row raises to L2
// (L3), one over to L1 at least; a level falls one step per sample that does not hold it up.
BreakerState step(BreakerState before, const BreakerSignals& signals);

}  // namespace hotgate::protection

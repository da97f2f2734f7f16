#include "protection/breaker_levels.h"

#include <algorithm>

namespace hotgate::protection {

std::string_view levelName(BreakerLevel level) {
    switch (level) {
        case BreakerLevel::L0: return "L0";
        case BreakerLevel::L1: return "L1";
        case BreakerLevel::L2: return "L2";
        case BreakerLevel::L3: return "L3";
    }
    return "?";
}

namespace {

struct Baseline {
    std::uint64_t offered = 0;
    std::uint64_t covered_ms = 0;
    std::uint64_t answered = 0;
    double p95_weighted = 0;  // sum of p95 x answered
};

// The L0 samples of `history`; with `window_only`, only those of the window before `now_ms`.
Baseline baselineOf(std::span<const BreakerSample> history, std::uint64_t now_ms, std::uint64_t window_ms,
                    bool window_only) {
    Baseline b;
    for (const auto& sample : history) {
        if (sample.level != BreakerLevel::L0) continue;
        if (window_only && sample.taken_at_ms + window_ms < now_ms) continue;
        b.offered += sample.offered;
        b.covered_ms += sample.interval_ms;
        b.answered += sample.answered;
        b.p95_weighted += static_cast<double>(sample.p95_us) * static_cast<double>(sample.answered);
    }
    return b;
}

}  // namespace

BreakerSignals signalsOf(const BreakerSample& current, std::span<const BreakerSample> history,
                         const CircuitBreakerConfig& config) {
    const std::uint64_t min_requests = config.min_requests;
    const auto window_ms = static_cast<std::uint64_t>(config.window.count());
    Baseline b = baselineOf(history, current.taken_at_ms, window_ms, true);
    // An incident longer than the window keeps the last quiet samples the history holds.
    if (b.offered < min_requests) b = baselineOf(history, current.taken_at_ms, window_ms, false);
    BreakerSignals signals;
    if (b.offered >= min_requests && b.covered_ms > 0 && current.interval_ms > 0 && current.offered >= min_requests) {
        const double baseline_qps = static_cast<double>(b.offered) / static_cast<double>(b.covered_ms);
        const double current_qps = static_cast<double>(current.offered) / static_cast<double>(current.interval_ms);
        signals.qps_ratio = current_qps / baseline_qps;
        signals.qps_over = signals.qps_ratio >= config.qps_ratio - 1e-9;  // "at least", despite rounding
    }
    signals.p95_unknown = current.answered < min_requests && current.offered >= min_requests;
    if (b.answered >= min_requests && current.answered >= min_requests) {
        const auto baseline_p95 = static_cast<std::int64_t>(b.p95_weighted / static_cast<double>(b.answered));
        signals.p95_delta_us = static_cast<std::int64_t>(current.p95_us) - baseline_p95;
        signals.p95_over =
            signals.p95_delta_us > std::chrono::duration_cast<std::chrono::microseconds>(config.p95_delta).count();
    }
    return signals;
}

BreakerState step(BreakerState before, const BreakerSignals& signals) {
    BreakerState after;
    after.both_over = signals.qps_over && signals.p95_over ? before.both_over + 1 : 0;
    BreakerLevel target = BreakerLevel::L0;
    if (after.both_over >= 3)
        target = BreakerLevel::L3;
    else if (after.both_over == 2)
        target = BreakerLevel::L2;
    else if (signals.qps_over || signals.p95_over)
        target = BreakerLevel::L1;
    const auto level = static_cast<std::uint8_t>(before.level);
    if (target >= before.level)
        after.level = target;
    else
        after.level = static_cast<BreakerLevel>(std::max<std::uint8_t>(level - 1, static_cast<std::uint8_t>(target)));
    return after;
}

}  // namespace hotgate::protection

// The circuit breaker's decision without clocks or traffic: the level walk L0 -> L3 -> L0 one
// step down per sample, the baseline (window, samples above L0 left out, min_requests), and
// the latency bins its p95 is read from.
#include <gtest/gtest.h>

#include <vector>

#include "protection/breaker_levels.h"
#include "protection/latency_bins.h"

namespace hotgate::protection {
namespace {

using namespace std::chrono_literals;

CircuitBreakerConfig config() {
    CircuitBreakerConfig c;
    c.enabled = true;
    c.window = 60s;
    c.sample_interval = 10s;
    c.qps_ratio = 1.8;
    c.p95_delta = 200ms;
    c.shed_percent = 30;
    c.min_requests = 20;
    return c;
}

BreakerSample sampleAt(std::uint64_t at_ms, std::uint64_t offered, std::uint64_t p95_us,
                       BreakerLevel level = BreakerLevel::L0) {
    return {at_ms, 10'000, offered, offered, p95_us, level};
}

// Six quiet samples: 100 requests per 10 s, p95 10 ms.
std::vector<BreakerSample> quietHistory(std::uint64_t until_ms) {
    std::vector<BreakerSample> history;
    for (int i = 6; i >= 1; --i) history.push_back(sampleAt(until_ms - static_cast<std::uint64_t>(i) * 10'000, 100, 10'000));
    return history;
}

BreakerSignals both() { return {2.0, 300'000, true, true}; }
BreakerSignals qpsOnly() { return {2.0, 0, true, false}; }
BreakerSignals none() { return {1.0, 0, false, false}; }

TEST(BreakerSignals, QpsRatioAndP95DeltaAreAgainstTheBaselineOfTheWindow) {
    const auto history = quietHistory(100'000);
    const auto signals = signalsOf(sampleAt(100'000, 200, 250'000), history, config());
    EXPECT_DOUBLE_EQ(signals.qps_ratio, 2.0);
    EXPECT_TRUE(signals.qps_over);
    EXPECT_EQ(signals.p95_delta_us, 240'000);
    EXPECT_TRUE(signals.p95_over);
}

TEST(BreakerSignals, ThresholdsAreAtLeastForQpsAndAboveForP95) {
    const auto history = quietHistory(100'000);
    const auto at = signalsOf(sampleAt(100'000, 180, 210'000), history, config());
    EXPECT_TRUE(at.qps_over) << "qps_ratio >= 1.8";
    EXPECT_FALSE(at.p95_over) << "a delta of exactly 200ms is not over 200ms";
    const auto under = signalsOf(sampleAt(100'000, 179, 210'001), history, config());
    EXPECT_FALSE(under.qps_over);
    EXPECT_TRUE(under.p95_over);
}

TEST(BreakerSignals, SamplesAboveL0AndOlderThanTheWindowAreNotTheBaseline) {
    std::vector<BreakerSample> history = quietHistory(100'000);
    history.push_back(sampleAt(95'000, 10'000, 5'000'000, BreakerLevel::L1));  // an incident's sample
    history.push_back(sampleAt(10'000, 10'000, 5'000'000));                    // 90 s old: outside the window
    const auto signals = signalsOf(sampleAt(100'000, 200, 10'000), history, config());
    EXPECT_DOUBLE_EQ(signals.qps_ratio, 2.0);
    EXPECT_EQ(signals.p95_delta_us, 0);
}

TEST(BreakerSignals, AnIncidentLongerThanTheWindowKeepsTheLastQuietSamples) {
    std::vector<BreakerSample> history{sampleAt(10'000, 100, 10'000), sampleAt(20'000, 100, 10'000)};
    for (std::uint64_t at = 30'000; at <= 150'000; at += 10'000)
        history.push_back(sampleAt(at, 300, 400'000, BreakerLevel::L3));
    const auto signals = signalsOf(sampleAt(160'000, 300, 400'000), history, config());
    EXPECT_DOUBLE_EQ(signals.qps_ratio, 3.0);
    EXPECT_TRUE(signals.qps_over);
    EXPECT_TRUE(signals.p95_over);
}

TEST(BreakerSignals, ASampleWhoseRequestsWereAllRefusedHasAnUnknownP95) {
    const auto history = quietHistory(100'000);
    BreakerSample shed = sampleAt(100'000, 300, 0);
    shed.answered = 2;
    const auto signals = signalsOf(shed, history, config());
    EXPECT_TRUE(signals.p95_unknown);
    EXPECT_FALSE(signals.p95_over);
    EXPECT_TRUE(signals.qps_over);
    EXPECT_FALSE(signalsOf(sampleAt(100'000, 3, 0), history, config()).p95_unknown) << "no traffic: known quiet";
}

TEST(BreakerSignals, TooFewRequestsGiveNoSignal) {
    const auto history = quietHistory(100'000);
    const auto few_now = signalsOf(sampleAt(100'000, 19, 900'000), history, config());
    EXPECT_FALSE(few_now.qps_over);
    EXPECT_FALSE(few_now.p95_over);
    std::vector<BreakerSample> thin{sampleAt(90'000, 3, 1'000), sampleAt(80'000, 3, 1'000)};
    const auto no_baseline = signalsOf(sampleAt(100'000, 500, 900'000), thin, config());
    EXPECT_EQ(no_baseline.qps_ratio, 0) << "no baseline to compare with";
    EXPECT_FALSE(no_baseline.qps_over);
    EXPECT_FALSE(no_baseline.p95_over);
    EXPECT_FALSE(signalsOf(sampleAt(100'000, 500, 900'000), {}, config()).qps_over) << "a first sample";
}

TEST(BreakerLevels, BothSignalsWalkL1ThenL2ThenL3) {
    BreakerState state;
    state = step(state, both());
    EXPECT_EQ(state.level, BreakerLevel::L1);
    state = step(state, both());
    EXPECT_EQ(state.level, BreakerLevel::L2);
    state = step(state, both());
    EXPECT_EQ(state.level, BreakerLevel::L3);
    state = step(state, both());
    EXPECT_EQ(state.level, BreakerLevel::L3);
}

TEST(BreakerLevels, OneSignalIsL1AndABreakRestartsTheCount) {
    BreakerState state;
    state = step(state, qpsOnly());
    EXPECT_EQ(state.level, BreakerLevel::L1);
    state = step(state, both());
    EXPECT_EQ(state.level, BreakerLevel::L1) << "the first sample with both over";
    state = step(state, qpsOnly());
    EXPECT_EQ(state.level, BreakerLevel::L1);
    EXPECT_EQ(state.both_over, 0u);
    state = step(state, both());
    EXPECT_EQ(state.level, BreakerLevel::L1);
    state = step(state, both());
    EXPECT_EQ(state.level, BreakerLevel::L2);
}

TEST(BreakerLevels, RecoveryIsOneLevelPerSampleNeverAJump) {
    BreakerState state{BreakerLevel::L3, 5};
    state = step(state, none());
    EXPECT_EQ(state.level, BreakerLevel::L2);
    state = step(state, none());
    EXPECT_EQ(state.level, BreakerLevel::L1);
    state = step(state, none());
    EXPECT_EQ(state.level, BreakerLevel::L0);
    state = step(state, none());
    EXPECT_EQ(state.level, BreakerLevel::L0);
}

TEST(BreakerLevels, OneSignalLeftHoldsL1OnTheWayDown) {
    BreakerState state{BreakerLevel::L3, 4};
    state = step(state, qpsOnly());
    EXPECT_EQ(state.level, BreakerLevel::L2);
    state = step(state, qpsOnly());
    EXPECT_EQ(state.level, BreakerLevel::L1);
    state = step(state, qpsOnly());
    EXPECT_EQ(state.level, BreakerLevel::L1);
}

TEST(BreakerLevels, AStateCarriedAtL3StaysThereWhileTheIncidentLasts) {
    BreakerState carried{BreakerLevel::L3, 3};
    EXPECT_EQ(step(carried, both()).level, BreakerLevel::L3);
}

TEST(LatencyBins, EveryLatencyIsBelowItsBinsUpperBoundAndWithinAnEighth) {
    for (std::uint64_t micros : {0ull, 1ull, 7ull, 8ull, 9ull, 15ull, 16ull, 100ull, 999ull, 1000ull, 123'456ull,
                                 200'000ull, 4'000'000'000ull}) {
        const std::size_t bin = LatencyBins::binOf(micros);
        ASSERT_LT(bin, LatencyBins::kCount);
        EXPECT_LT(micros, LatencyBins::upperBound(bin)) << micros;
        if (micros >= 8) {
            EXPECT_LE(LatencyBins::upperBound(bin), micros + micros / 8 + 1) << micros;
        }
        if (bin > 0) {
            EXPECT_GE(micros, LatencyBins::upperBound(bin - 1)) << micros;
        }
    }
    EXPECT_EQ(LatencyBins::binOf(UINT64_MAX), LatencyBins::kCount - 1);
}

TEST(LatencyBins, BinsAreContiguous) {
    for (std::size_t bin = 1; bin + 1 < LatencyBins::kCount; ++bin)
        EXPECT_EQ(LatencyBins::binOf(LatencyBins::upperBound(bin - 1)), bin) << bin;
}

}  // namespace
}  // namespace hotgate::protection

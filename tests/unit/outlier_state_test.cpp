// OutlierState: the runs of failures that call for an ejection, how long an ejection lasts (base
// x times ejected), how time back forgets past ejections, and when an ejection ends. Time is
// synthetic steady_clock points; nothing sleeps.
#include "proxy/outlier_state.h"

#include <gtest/gtest.h>

namespace hotgate {
namespace {

using namespace std::chrono_literals;
using Clock = OutlierState::Clock;

// A fixed origin well after the clock's epoch (the epoch means "never ejected" to backSince()).
const Clock::time_point kT = Clock::time_point{} + 1h;

OutlierDetectionConfig detection(unsigned consecutive_5xx, unsigned consecutive_gateway_errors) {
    OutlierDetectionConfig config;
    config.consecutive_5xx = consecutive_5xx;
    config.consecutive_gateway_errors = consecutive_gateway_errors;
    config.interval = 10s;
    config.base_ejection_time = 30s;
    config.max_ejection_percent = 50;
    return config;
}

const OutlierDetectionConfig kDefaults = detection(5, 3);

// Records `outcome` `times` times; whether any of them called for an ejection.
bool recordTimes(OutlierState& state, TryOutcome outcome, unsigned times, const OutlierDetectionConfig& config) {
    bool called = false;
    for (unsigned i = 0; i < times; ++i) called = state.record(outcome, config) || called;
    return called;
}

TEST(OutlierRecord, TheFifthServerErrorInARowCallsForAnEjection) {
    OutlierState state;
    EXPECT_FALSE(recordTimes(state, TryOutcome::ServerError, 4, kDefaults));
    EXPECT_TRUE(state.record(TryOutcome::ServerError, kDefaults));
}

TEST(OutlierRecord, TheThirdGatewayErrorInARowCallsForAnEjection) {
    OutlierState state;
    EXPECT_FALSE(recordTimes(state, TryOutcome::GatewayError, 2, kDefaults));
    EXPECT_TRUE(state.record(TryOutcome::GatewayError, kDefaults));
}

TEST(OutlierRecord, GatewayErrorsAreServerErrorsToo) {
    const auto only_5xx = detection(5, 0);
    OutlierState state;
    EXPECT_FALSE(recordTimes(state, TryOutcome::GatewayError, 2, only_5xx));
    EXPECT_FALSE(recordTimes(state, TryOutcome::ServerError, 2, only_5xx));
    EXPECT_TRUE(state.record(TryOutcome::GatewayError, only_5xx));
}

TEST(OutlierRecord, AServerErrorBreaksARunOfGatewayErrors) {
    const auto only_gateway = detection(0, 3);
    OutlierState state;
    EXPECT_FALSE(recordTimes(state, TryOutcome::GatewayError, 2, only_gateway));
    EXPECT_FALSE(state.record(TryOutcome::ServerError, only_gateway));
    EXPECT_FALSE(recordTimes(state, TryOutcome::GatewayError, 2, only_gateway));
    EXPECT_TRUE(state.record(TryOutcome::GatewayError, only_gateway));
}

TEST(OutlierRecord, ASuccessStartsBothRunsOver) {
    OutlierState state;
    EXPECT_FALSE(recordTimes(state, TryOutcome::ServerError, 4, kDefaults));
    EXPECT_FALSE(state.record(TryOutcome::Success, kDefaults));
    EXPECT_FALSE(recordTimes(state, TryOutcome::ServerError, 4, kDefaults));
    EXPECT_TRUE(state.record(TryOutcome::ServerError, kDefaults));

    OutlierState gateway;
    EXPECT_FALSE(recordTimes(gateway, TryOutcome::GatewayError, 2, kDefaults));
    EXPECT_FALSE(gateway.record(TryOutcome::Success, kDefaults));
    EXPECT_FALSE(recordTimes(gateway, TryOutcome::GatewayError, 2, kDefaults));
    EXPECT_TRUE(gateway.record(TryOutcome::GatewayError, kDefaults));
}

TEST(OutlierRecord, ZeroTurnsASignalOff) {
    OutlierState both_off;
    EXPECT_FALSE(recordTimes(both_off, TryOutcome::GatewayError, 100, detection(0, 0)));
    EXPECT_FALSE(recordTimes(both_off, TryOutcome::ServerError, 100, detection(0, 0)));
    OutlierState no_5xx;
    EXPECT_FALSE(recordTimes(no_5xx, TryOutcome::ServerError, 100, detection(0, 3)));
}

TEST(OutlierRecord, ARunPastTheThresholdKeepsCallingWhileNotEjected) {
    // The caller may decline (max_ejection_percent): the next failure asks again.
    OutlierState state;
    EXPECT_FALSE(recordTimes(state, TryOutcome::ServerError, 4, kDefaults));
    EXPECT_TRUE(state.record(TryOutcome::ServerError, kDefaults));
    EXPECT_TRUE(state.record(TryOutcome::ServerError, kDefaults));
}

TEST(OutlierRecord, FailuresWhileEjectedNeverCallForAnotherEjection) {
    OutlierState state;
    state.eject(kDefaults, kT);
    EXPECT_FALSE(recordTimes(state, TryOutcome::GatewayError, 10, kDefaults));
}

TEST(OutlierEject, NeverEjectedIsNotEjectedAndBackSinceTheEpoch) {
    OutlierState state;
    EXPECT_FALSE(state.ejected(kT));
    EXPECT_EQ(state.backSince(), Clock::time_point{});
    EXPECT_EQ(state.timesEjected(), 0u);
}

TEST(OutlierEject, TheFirstEjectionLastsTheBaseTimeAndEndsAtItsEnd) {
    OutlierState state;
    EXPECT_EQ(state.eject(kDefaults, kT), kT + 30s);
    EXPECT_EQ(state.timesEjected(), 1u);
    EXPECT_TRUE(state.ejected(kT));
    EXPECT_TRUE(state.ejected(kT + 30s - 1ns));
    EXPECT_EQ(state.backSince(), Clock::time_point{});  // not back yet
    EXPECT_FALSE(state.ejected(kT + 30s));
    EXPECT_EQ(state.backSince(), kT + 30s);
}

TEST(OutlierEject, BackSinceIsTheEjectionEndHoweverLateItIsNoticed) {
    OutlierState state;
    const auto end = state.eject(kDefaults, kT);
    EXPECT_FALSE(state.ejected(end + 5min));
    EXPECT_EQ(state.backSince(), end);
    EXPECT_FALSE(state.ejected(end + 10min));
    EXPECT_EQ(state.backSince(), end);  // a later look does not move it
}

TEST(OutlierEject, EachEjectionSoonAfterTheLastLastsBaseTimesTheCount) {
    OutlierState state;
    auto now = kT;
    for (unsigned n = 1; n <= 4; ++n) {
        const auto end = state.eject(kDefaults, now);
        EXPECT_EQ(end, now + kDefaults.base_ejection_time * n) << "ejection " << n;
        EXPECT_EQ(state.timesEjected(), n);
        EXPECT_FALSE(state.ejected(end));
        now = end + 1s;  // back for less than an interval
    }
}

// An endpoint ejected three times in a row, back since backSince().
OutlierState ejectedThreeTimes() {
    OutlierState state;
    auto now = kT;
    for (int i = 0; i < 3; ++i) {
        const auto end = state.eject(kDefaults, now);
        state.ejected(end);
        now = end;
    }
    return state;
}

TEST(OutlierEject, BackForKIntervalsForgetsKEjections) {
    // Ejected 3 times; the next ejection counts 3 - k + 1 (at least 1) after k intervals back.
    const unsigned expected_count[] = {4, 3, 2, 1, 1, 1};
    for (unsigned k = 0; k < 6; ++k) {
        OutlierState state = ejectedThreeTimes();
        ASSERT_EQ(state.timesEjected(), 3u);
        const auto back = state.backSince();
        const auto now = back + kDefaults.interval * k + kDefaults.interval / 2;
        EXPECT_EQ(state.eject(kDefaults, now), now + kDefaults.base_ejection_time * expected_count[k]) << k;
        EXPECT_EQ(state.timesEjected(), expected_count[k]) << k;
    }
}

TEST(OutlierEject, AnIntervalIsForgottenOnlyWhenWhole) {
    OutlierState state = ejectedThreeTimes();
    const auto now = state.backSince() + kDefaults.interval - 1ns;
    state.eject(kDefaults, now);
    EXPECT_EQ(state.timesEjected(), 4u);
}

TEST(OutlierEject, AnEjectionStartsTheRunsOver) {
    OutlierState state;
    EXPECT_FALSE(recordTimes(state, TryOutcome::ServerError, 4, kDefaults));
    const auto end = state.eject(kDefaults, kT);
    EXPECT_FALSE(state.ejected(end));
    EXPECT_FALSE(recordTimes(state, TryOutcome::ServerError, 4, kDefaults));
    EXPECT_TRUE(state.record(TryOutcome::ServerError, kDefaults));
}

// outlier_state.h: ejected() "an ejection that ran out ends here (and the failure counts start
// over)". Tries in flight when the endpoint was ejected (or sent to it in panic, every endpoint
// ejected) fail during the ejection; they must not make the first failure after it an ejection.
TEST(OutlierEject, FailuresDuringAnEjectionDoNotCountAfterItEnds) {
    OutlierState state;
    const auto end = state.eject(kDefaults, kT);
    EXPECT_FALSE(recordTimes(state, TryOutcome::ServerError, 4, kDefaults));
    EXPECT_FALSE(state.ejected(end));
    EXPECT_FALSE(state.record(TryOutcome::ServerError, kDefaults));
}

}  // namespace
}  // namespace hotgate

// The fleet host's health verdict (fleet/host_verdict.h): the engine's outcome first, then the
// TCP reading against the baseline taken before the apply.
#include "fleet/host_verdict.h"

#include <gtest/gtest.h>

namespace hotgate::fleet {
namespace {

TcpReading reading(std::uint64_t p99, std::uint64_t handshakes, std::uint64_t connections, std::uint64_t resets) {
    return {.handshake_p99_us = p99, .handshakes = handshakes, .connections = connections, .resets_sent = resets};
}

TEST(HostVerdict, TheEngineOutcomeComesFirst) {
    EXPECT_EQ(judgeHealth(EngineOutcome::Verifying, "", std::nullopt, std::nullopt).verdict, Verdict::Verifying);
    const auto undone = judgeHealth(EngineOutcome::RolledBack, "rolled back: 5xx share rose", reading(100, 10, 10, 0),
                                    reading(100, 10, 10, 0));
    EXPECT_EQ(undone.verdict, Verdict::Unhealthy);
    EXPECT_EQ(undone.reason, "config engine: rolled back: 5xx share rose");
    EXPECT_EQ(judgeHealth(EngineOutcome::Verified, "", std::nullopt, std::nullopt).verdict, Verdict::Healthy);
}

TEST(HostVerdict, AHandshakeP99AboveFourTimesTheBaselineAndTheFloorIsUnhealthy) {
    const auto base = reading(2000, 50, 100, 0);
    EXPECT_EQ(judgeHealth(EngineOutcome::Verified, "", base, reading(8000, 60, 110, 0)).verdict, Verdict::Healthy);
    const auto slow = judgeHealth(EngineOutcome::Verified, "", base, reading(8001, 60, 110, 0));
    EXPECT_EQ(slow.verdict, Verdict::Unhealthy);
    EXPECT_NE(slow.reason.find("handshake p99 8001 us, above 8000 us (baseline 2000 us)"), std::string::npos)
        << slow.reason;
    // Tiny baselines are noise: the floor is 5 ms.
    EXPECT_EQ(judgeHealth(EngineOutcome::Verified, "", reading(50, 50, 100, 0), reading(4900, 60, 110, 0)).verdict,
              Verdict::Healthy);
    // No handshake before the apply: nothing to compare with.
    EXPECT_EQ(judgeHealth(EngineOutcome::Verified, "", reading(0, 0, 0, 0), reading(90000, 5, 5, 0)).verdict,
              Verdict::Healthy);
}

TEST(HostVerdict, ResetsSinceTheApplyAreJudgedAgainstTheShareBefore) {
    const auto base = reading(100, 10, 1000, 10);  // 1% of connections before
    // 9 more resets: under the floor of 10, whatever the share.
    EXPECT_EQ(judgeHealth(EngineOutcome::Verified, "", base, reading(100, 10, 1010, 19)).verdict, Verdict::Healthy);
    // 10 on 1000 new connections: 1%, within 4 x 1%.
    EXPECT_EQ(judgeHealth(EngineOutcome::Verified, "", base, reading(100, 10, 2000, 20)).verdict, Verdict::Healthy);
    // 50 on 1000: 5%, above 4%.
    const auto resets = judgeHealth(EngineOutcome::Verified, "", base, reading(100, 10, 2000, 60));
    EXPECT_EQ(resets.verdict, Verdict::Unhealthy);
    EXPECT_NE(resets.reason.find("50 resets sent on 1000 connections"), std::string::npos) << resets.reason;
    // A host that sent none before is held to the 1% floor.
    EXPECT_EQ(judgeHealth(EngineOutcome::Verified, "", reading(100, 10, 1000, 0), reading(100, 10, 2000, 10)).verdict,
              Verdict::Healthy);
    EXPECT_EQ(judgeHealth(EngineOutcome::Verified, "", reading(100, 10, 1000, 0), reading(100, 10, 2000, 11)).verdict,
              Verdict::Unhealthy);
}

}  // namespace
}  // namespace hotgate::fleet

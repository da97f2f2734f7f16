// A rollout's record and its waves (fleet/rollout.h).
#include <gtest/gtest.h>

#include "fleet/rollout.h"

namespace hotgate::fleet {
namespace {

const std::vector<std::string> kHosts{"a", "b", "c", "d", "e", "f", "g", "h"};

TEST(RolloutWaves, CountsAndSharesAreCumulativeAndRoundUp) {
    auto waves = planWaves("1,25%,100%", kHosts);
    ASSERT_TRUE(waves) << waves.error().message;
    EXPECT_EQ(*waves, (std::vector<std::vector<std::string>>{{"a"}, {"b"}, {"c", "d", "e", "f", "g", "h"}}));
    waves = planWaves("10%,100%", {"a", "b", "c"});  // 10% of 3 is one host, not none
    ASSERT_TRUE(waves);
    EXPECT_EQ(waves->front(), std::vector<std::string>{"a"});
    waves = planWaves("2,2,100%", kHosts);  // a wave that adds nobody is left out
    ASSERT_TRUE(waves);
    EXPECT_EQ(waves->size(), 2u);
}

TEST(RolloutWaves, MalformedOrIncompleteSpecsAreRefused) {
    EXPECT_FALSE(planWaves("1,50%", kHosts));       // never reaches every host
    EXPECT_FALSE(planWaves("9,100%", kHosts));      // more than there are
    EXPECT_FALSE(planWaves("50%,2,100%", kHosts));  // goes back down
    EXPECT_FALSE(planWaves("one,100%", kHosts));
    EXPECT_FALSE(planWaves("150%", kHosts));
    EXPECT_FALSE(planWaves("", kHosts));
}

TEST(Rollout, OnlyTheActiveWavesOfARunningRolloutServeTheCandidate) {
    Rollout rollout{"r1", "routes: []\n", {{"a"}, {"b", "c"}}, 1, RolloutState::Running, ""};
    EXPECT_TRUE(rollout.includes("a"));
    EXPECT_FALSE(rollout.includes("b"));
    rollout.active = 2;
    EXPECT_TRUE(rollout.includes("c"));
    rollout.state = RolloutState::RolledBack;
    EXPECT_FALSE(rollout.includes("a"));
    auto back = Rollout::fromJson(rollout.toJson());
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->waves, rollout.waves);
    EXPECT_EQ(back->state, RolloutState::RolledBack);
    EXPECT_EQ(back->candidate, rollout.candidate);
    EXPECT_FALSE(Rollout::fromJson("{\"id\": 1}"));
    EXPECT_FALSE(Rollout::fromJson("not json"));
}

}  // namespace
}  // namespace hotgate::fleet

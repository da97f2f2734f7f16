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

TEST(Rollout, ABinaryRolloutAsksItsWavesForTheBinaryAndARollbackForTheOneBefore) {
    Rollout rollout{"r2", "", {{"a"}, {"b"}}, 1, RolloutState::Running, ""};
    rollout.binary = BinaryTarget{"https://releases.example/hotgate", std::string(64, 'b')};
    rollout.previous = {{"a", std::string(64, '1')}, {"b", std::string(64, '2')}};
    ASSERT_TRUE(rollout.binaryFor("a", "/var/lib/hotgate"));
    EXPECT_EQ(rollout.binaryFor("a", "/var/lib/hotgate")->source, "https://releases.example/hotgate");
    EXPECT_FALSE(rollout.binaryFor("b", "/var/lib/hotgate")) << "its wave is not open";
    rollout.state = RolloutState::RolledBack;
    const auto back = rollout.binaryFor("a", "/var/lib/hotgate");
    ASSERT_TRUE(back);
    EXPECT_EQ(back->source, "/var/lib/hotgate/hotgate-bin-" + std::string(64, '1'));
    EXPECT_EQ(back->sha256, std::string(64, '1'));
    EXPECT_FALSE(rollout.binaryFor("z", "/var/lib/hotgate")) << "a host that was not there has nothing to return to";
    rollout.state = RolloutState::Done;
    EXPECT_FALSE(rollout.binaryFor("a", "/var/lib/hotgate"));
    const auto parsed = Rollout::fromJson(rollout.toJson());
    ASSERT_TRUE(parsed && parsed->binary) << rollout.toJson();
    EXPECT_EQ(parsed->binary->sha256, std::string(64, 'b'));
    EXPECT_EQ(parsed->previous, rollout.previous);
}

}  // namespace
}  // namespace hotgate::fleet

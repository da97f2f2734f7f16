// HTTP/2 across upgrades (docs/http2.md): HTTP/2 connections cannot move to another process, so
// the version that leaves (at a commit, or the new one at a rollback) sends the two-phase GOAWAY;
// the client's next streams open a connection to the version that stays. Under HTTP/2 load that
// behaves as RFC 9113 asks (tests/support/h2_upgrade_load.py), no request fails and every answer
// is checked, in BPF and takeover mode.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class Http2UpgradeTest : public UpgradeTest {
protected:
    void SetUp() override {
        UpgradeTest::SetUp();
        config_.listener_extra = "    protocols: [h2, http1]\n";
    }

    ::testing::AssertionResult startH2Load(ChildProcess& load, int seconds) {
        std::string error;
        const auto dir = gateway_.dir();
        if (!load.start({"/usr/bin/python3", std::string(HOTGATE_SOURCE_DIR) + "/tests/support/h2_upgrade_load.py",
                         std::to_string(port()), std::to_string(seconds), "4", "10"},
                        dir / "h2load.json", dir / "h2load.err", error))
            return ::testing::AssertionFailure() << error;
        return ::testing::AssertionSuccess();
    }

    nlohmann::json finishH2Load(ChildProcess& load, int seconds) {
        EXPECT_TRUE(load.waitExit(std::chrono::seconds(seconds + 30)).has_value()) << "the load did not stop";
        auto summary = nlohmann::json::parse(load.readStdout(), nullptr, false);
        EXPECT_FALSE(summary.is_discarded()) << load.readStdout() << load.readStderr();
        return summary.is_discarded() ? nlohmann::json::object() : summary;
    }
};

TEST_P(Http2UpgradeTest, RollbackThenCommitUnderHttp2LoadFailsNoRequest) {
    ASSERT_TRUE(startGateway());
    ChildProcess load;
    constexpr int kSeconds = 10;
    ASSERT_TRUE(startH2Load(load, kSeconds));
    std::this_thread::sleep_for(1s);
    // Cut over to B and roll back: B's HTTP/2 connections are told to go.
    auto upgraded = upgrade(hotgateBBinary(), gateway_.configFile().string());
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    ASSERT_EQ(gwctl({"cutover"}).exit_code, 0);
    std::this_thread::sleep_for(1500ms);
    auto rolled = gwctl({"rollback"});
    ASSERT_EQ(rolled.exit_code, 0) << rolled.out << rolled.err;
    ASSERT_TRUE(onlyOneVersionLeft());
    std::this_thread::sleep_for(1s);
    // Then upgrade for good: the first version's connections are told to go at the commit.
    upgradeCycle(hotgateBBinary(), gateway_.configFile().string());
    if (HasFatalFailure()) return;
    const auto summary = finishH2Load(load, kSeconds);
    EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2);
    EXPECT_GT(summary.value("ok", 0), 500) << summary.dump(2);
    // Both versions answered, and connections were replaced after GOAWAYs rather than broken.
    EXPECT_EQ(summary.value("versions", nlohmann::json::object()).size(), 2u) << summary.dump(2);
    EXPECT_GE(summary.value("goaways", 0), 4) << summary.dump(2);
    EXPECT_GT(summary.value("connections", 0), 4) << summary.dump(2);
}

INSTANTIATE_TEST_SUITE_P(Modes, Http2UpgradeTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

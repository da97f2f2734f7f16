// Protection state across versions (docs/protection.md, "Across versions"): a rate limit spent
// before an upgrade stays spent through the overlap (old and new both serving one key) and after
// the commit, and through a live config apply; a breaker in the middle of an incident is at the
// incident's level in the new version. In BPF mode and in takeover mode.
#include "paced_load.h"
#include "protection_fixture.h"
#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

// The bound a spent key is held to: what the bucket refilled since it was emptied, plus one
// token for the fraction the first refill may round up (the documented slack).
int allowedAfter(std::chrono::steady_clock::time_point emptied, double rate) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - emptied).count();
    return static_cast<int>(rate * seconds) + 1;
}

class ProtectionUpgradeTest : public UpgradeTest {};

TEST_P(ProtectionUpgradeTest, ARateLimitHoldsThroughTheOverlapAndAfterTheCommit) {
    addRoute(config_, "limited", "    rate_limit: {requests_per_second: 1, burst: 50, key: \"header:x-client\"}\n");
    ASSERT_TRUE(startGateway());
    HttpClient kept(port());  // a keep-alive client of the old version through the overlap
    ASSERT_EQ(kept.get("/other").status(), 200u);
    const std::string old_version = kept.get("/other").header("x-hotgate-version");
    const auto spent = sendKeyed(port(), "/limited/x", "alice", 50);
    const auto emptied = std::chrono::steady_clock::now();
    ASSERT_EQ(spent.ok, 50) << "the burst";

    auto upgraded = upgrade(hotgateBBinary(), gateway_.configFile().string());
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    ASSERT_EQ(gwctl({"cutover"}).exit_code, 0);
    // The overlap: the kept connection is served by the old version, new ones by the new.
    const auto on_old = sendKeyed(port(), "/limited/x", "alice", 10, &kept);
    const auto on_new = sendKeyed(port(), "/limited/x", "alice", 10);
    ASSERT_FALSE(on_old.versions.empty());
    EXPECT_EQ(on_old.versions.front(), old_version);
    ASSERT_FALSE(on_new.versions.empty());
    EXPECT_NE(on_new.versions.front(), old_version);
    EXPECT_LE(on_old.ok + on_new.ok, allowedAfter(emptied, 1.0)) << "old " << on_old.ok << ", new " << on_new.ok;

    gateway_.expectExit();
    auto committed = gwctl({"commit"});
    ASSERT_EQ(committed.exit_code, 0) << committed.out << committed.err;
    const auto after = sendKeyed(port(), "/limited/x", "alice", 50);  // within a second
    EXPECT_EQ(after.other, 0);
    EXPECT_LE(on_old.ok + on_new.ok + after.ok, allowedAfter(emptied, 1.0))
        << "overlap " << on_old.ok + on_new.ok << ", after the commit " << after.ok;
    EXPECT_EQ(sendKeyed(port(), "/limited/x", "bob", 5).ok, 5) << "other keys are untouched";
}

TEST_P(ProtectionUpgradeTest, ARateLimitHoldsThroughALiveConfigApply) {
    addRoute(config_, "limited", "    rate_limit: {requests_per_second: 1, burst: 50, key: \"header:x-client\"}\n");
    ASSERT_TRUE(startGateway());
    ASSERT_EQ(sendKeyed(port(), "/limited/x", "alice", 50).ok, 50);
    const auto emptied = std::chrono::steady_clock::now();
    auto changed = gateway_.writtenConfig();
    changed.routes.insert(changed.routes.begin(), {"extra", "{ path: /extra }", "", 200, "extra\n"});
    const auto file = gateway_.writeFile("changed.yaml", changed.toYaml()).string();
    auto applied = gwctl({"config", "apply", file});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    ASSERT_EQ(httpGet(port(), "/extra").status(), 200u) << "the change is live";
    const auto after = sendKeyed(port(), "/limited/x", "alice", 50);
    EXPECT_LE(after.ok, allowedAfter(emptied, 1.0));
    EXPECT_GT(after.limited, 40);
}

TEST_P(ProtectionUpgradeTest, ABreakerInTheMiddleOfAnIncidentStaysAtItsLevelInTheNewVersion) {
    addRoute(config_, "reports", "    critical: false\n");
    config_.extra = kFastBreaker;
    ASSERT_TRUE(startGateway());
    auto level = [&] { return metric("hotgate_circuit_breaker_level", {{"route", "reports"}}); };
    PacedLoad base(port(), "/reports/x", 2, 100ms);
    std::this_thread::sleep_for(2s);
    upstream_.setResponseDelay(300ms);
    PacedLoad burst(port(), "/reports/x", 24, 100ms, 60s);
    ASSERT_TRUE(eventually([&] { return level() == 3; }, 8s)) << "level " << level();

    upgradeCycle(hotgateBBinary(), gateway_.configFile().string());
    if (HasFatalFailure()) return;
    const auto answer = httpGet(port(), "/reports/x");
    EXPECT_EQ(answer.status(), 503u) << "the new version refuses the non-critical route at once";
    EXPECT_EQ(answer.header("x-hotgate-shed"), "L3");
    EXPECT_EQ(level(), 3) << "the new version's breaker is at the incident's level";

    burst.stop();
    upstream_.setResponseDelay(0ms);
    EXPECT_TRUE(eventually([&] { return level() == 0; }, 8s)) << "and it recovers under the new version";
}

INSTANTIATE_TEST_SUITE_P(Modes, ProtectionUpgradeTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

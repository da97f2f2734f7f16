// Chaos on the host: hot upgrades while stress-ng keeps both cores busy (`stress-ng --cpu 2`,
// started by the test, bounded by its own --timeout, stopped by its PID). 5 upgrade -> cutover
// -> commit cycles under the mixed load (new connections, keep-alive busy and paused,
// WebSockets): zero failed requests.
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kStressNg = "/usr/bin/stress-ng";

// The PIDs of `pid`'s children (/proc/PID/task/PID/children).
std::vector<pid_t> childrenOf(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    std::vector<pid_t> children;
    for (pid_t child = 0; in >> child;) children.push_back(child);
    return children;
}

class CpuStressChaosTest : public UpgradeTest {};

TEST_P(CpuStressChaosTest, FiveCyclesUnderCpuStressFailNothing) {
    ASSERT_EQ(::access(kStressNg, X_OK), 0) << kStressNg << " is missing: `tools/deps build` installs stress-ng";
    ASSERT_TRUE(startGateway());
    constexpr int kSeconds = 16;
    ChildProcess stress;
    std::string error;
    // --timeout bounds it should the test die; the test stops it by its PID before that.
    ASSERT_TRUE(stress.start({kStressNg, "--cpu", "2", "--timeout", std::to_string(kSeconds + 30) + "s"},
                             gateway_.dir() / "stress.out", gateway_.dir() / "stress.err", error))
        << error;
    ASSERT_TRUE(eventually([&] { return childrenOf(stress.pid()).size() == 2; }))
        << "stress-ng did not start its 2 CPU workers:\n" << stress.readStderr();

    ChildProcess load;
    // Generous client-side bounds: stress-ng starves loadgen too, and its own lag or a slow
    // answer is not a lost request (a lost one still fails, or runs into the 15 s timeout).
    ASSERT_TRUE(startLoad(load, kSeconds, 500, 20, 5, {"--timeout-ms", "15000", "--max-lag-ms", "5000"}));
    std::this_thread::sleep_for(1s);
    const auto took = alternatingUpgradeCycles(5);
    if (HasFatalFailure()) return;
    // The stress lasted through every cycle.
    EXPECT_EQ(childrenOf(stress.pid()).size(), 2u) << "stress-ng's workers ended early:\n" << stress.readStderr();
    EXPECT_TRUE(load.running()) << "the load ended before the 5th cycle (" << took.count() << " ms of cycles)";
    const auto summary = finishLoad(load, kSeconds);
    ASSERT_TRUE(stress.signal(SIGTERM)) << "stress-ng ended before the test stopped it";
    EXPECT_TRUE(stress.waitExit(10s).has_value()) << "stress-ng did not stop on SIGTERM";

    EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2) << "\n" << last_load_stderr_;
    EXPECT_EQ(summary.value("versions", nlohmann::json::object()).size(), 2u) << summary["versions"].dump(2);
    EXPECT_GT(summary["kinds"]["keepalive"]["outcomes"].value("ok", 0), 0);
    EXPECT_GT(summary["kinds"]["new_connection"]["outcomes"].value("ok", 0), 0);
    EXPECT_EQ(summary["kinds"]["stream"].value("failed", -1), 0) << "every stream intact";
    std::cerr << "[chaos] stress-ng --cpu 2: 5 cycles in " << took.count() << " ms, " << summary.value("ok", 0)
              << " requests, " << summary.value("failed", -1) << " failed, p99 "
              << summary["latency_ms"].value("p99", 0.0) << " ms\n";
}

INSTANTIATE_TEST_SUITE_P(Modes, CpuStressChaosTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

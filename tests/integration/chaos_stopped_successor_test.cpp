// Chaos on the host: a new version frozen (SIGSTOP) for 5 s after the old version admitted it
// and handed its sockets over, before it says ready (it stops itself at its first listen(),
// tests/support/preload/stop_at_first_listen.cpp). The upgrade times out cleanly (gwctl
// upgrade --timeout 2s fails with the reason), the old version serves every request of a load
// that runs throughout, the frozen process is gone once it runs again (it finds gwctl's
// SIGTERM waiting), the old version is alone and idle again, and the next upgrade works.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

// The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, 'Z'), or 0 when there is no such process.
char processState(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return 0;
    const auto close = line.rfind(')');  // the command name may hold spaces and parentheses
    return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : 0;
}

bool gone(pid_t pid) {
    const char state = processState(pid);
    return state == 0 || state == 'Z';
}

class StoppedSuccessorChaosTest : public UpgradeTest {};

TEST_P(StoppedSuccessorChaosTest, AFrozenNewVersionTimesOutCleanlyAndTheOldOneServesThroughout) {
    ASSERT_TRUE(startGateway());
    const auto before = controlStatus();
    ASSERT_EQ(before.value("versions", nlohmann::json::array()).size(), 1u) << before.dump(2);
    const int old_pid = before["versions"][0].value("pid", 0);
    const std::string old_version(httpGet(port(), "/").response["x-hotgate-version"]);
    // hotgate_b under a wrapper that says its PID (kept by exec) before it becomes hotgate_b,
    // which stops itself at its first listen() (stop_at_first_listen.so): after the old
    // version's handover, before ready. A SIGSTOP sent from here when the log says it took
    // over raced a start that can take a millisecond.
    const auto pid_file = gateway_.dir() / "successor.pid";
    const auto preload = std::filesystem::path(HOTGATE_BIN_DIR) / "stop_at_first_listen.so";
    const auto wrapper = gateway_.writeFile(
        "frozen-successor.sh", "#!/bin/sh\ncase \"$1\" in --check-config) exec " + hotgateBBinary() +
                                   " \"$@\";; esac\necho $$ > " + pid_file.string() + "\nLD_PRELOAD=" +
                                   preload.string() + " exec " + hotgateBBinary() + " \"$@\"\n");
    ::chmod(wrapper.c_str(), 0755);
    const auto hotgate_b = std::filesystem::canonical(hotgateBBinary());

    constexpr int kSeconds = 10;
    ChildProcess load;
    // Bounds for correctness, not speed: a request the old version fails to serve still fails.
    ASSERT_TRUE(startLoad(load, kSeconds, 300, 10, 3, {"--timeout-ms", "15000", "--max-lag-ms", "5000"}));
    std::this_thread::sleep_for(500ms);
    ChildProcess upgrade;
    std::string error;
    const auto log = gateway_.dir() / "frozen-successor.log";
    ASSERT_TRUE(upgrade.start({gwctlBinary(), "--control", controlSocket(), "--admin",
                               "127.0.0.1:" + std::to_string(adminPort()), "upgrade", "--binary", wrapper.string(),
                               "--config", gateway_.configFile().string(), "--timeout", "2s", "--log", log.string()},
                              gateway_.dir() / "upgrade.out", gateway_.dir() / "upgrade.err", error))
        << error;
    // It freezes itself once it has the old version's handover: admitted (phase "starting"),
    // with its own start (listeners, admin, self-check) still ahead.
    pid_t pid = 0;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
        if (readFile(log).find("upgrade: taking over from") != std::string::npos) {
            std::ifstream in(pid_file);
            std::error_code ec;
            ASSERT_TRUE(in >> pid && pid > 0) << "no pid in " << pid_file;
            ASSERT_EQ(std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec), hotgate_b);
            break;
        }
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the new version never started:\n"
                                                              << upgrade.readStderr() << readFile(log);
        std::this_thread::sleep_for(1ms);
    }
    started_pids_.push_back(pid);  // TearDown SIGKILLs it by this PID should the test fail
    ASSERT_TRUE(eventually([&] { return processState(pid) == 'T'; })) << "state " << processState(pid);
    const auto stopped_at = std::chrono::steady_clock::now();
    std::string seen_as = "not connected yet";
    for (const auto& version : controlStatus().value("versions", nlohmann::json::array()))
        if (version.value("pid", 0) == pid) seen_as = version.value("phase", "?");
    ASSERT_EQ(seen_as, "starting") << "frozen too late: it was ready already";
    std::cerr << "[chaos] froze pid " << pid << "; the old version saw it as: " << seen_as << "\n";

    // The upgrade times out while it is frozen, and says so.
    const auto code = upgrade.waitExit(20s);
    ASSERT_TRUE(code.has_value()) << "gwctl upgrade did not time out";
    EXPECT_NE(*code, 0) << upgrade.readStdout();
    EXPECT_NE(upgrade.readStderr().find("not ready within 2s"), std::string::npos) << upgrade.readStderr();
    EXPECT_EQ(upgrade.readStdout().find("ready: "), std::string::npos) << upgrade.readStdout();
    EXPECT_EQ(processState(pid), 'T') << "still frozen when gwctl gave up";
    EXPECT_EQ(std::string(httpGet(port(), "/").response["x-hotgate-version"]), old_version);

    std::this_thread::sleep_until(stopped_at + 5s);
    ASSERT_EQ(::kill(pid, SIGCONT), 0);
    // Running again, it acts on the SIGTERM gwctl sent at its timeout: it leaves, and with it
    // whatever it had announced to the old version.
    EXPECT_TRUE(eventually([&] { return gone(pid); }, 15s)) << "pid " << pid << " still there, state "
                                                             << processState(pid);
    EXPECT_TRUE(onlyOneVersionLeft(10s)) << controlStatus().dump(2);
    const auto after = controlStatus();
    EXPECT_EQ(after.value("upgrade_state", ""), "none") << after.dump(2);
    EXPECT_EQ(after["versions"][0].value("pid", 0), old_pid) << after.dump(2);

    const auto summary = finishLoad(load, kSeconds);
    EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2) << "\n" << last_load_stderr_;
    const auto versions = summary.value("versions", nlohmann::json::object());
    EXPECT_EQ(versions.size(), 1u) << "only the old version served: " << versions.dump(2);
    EXPECT_TRUE(versions.contains(old_version)) << versions.dump(2);

    // Nothing was left half-done: the next upgrade goes through.
    upgradeCycle(hotgateBBinary(), gateway_.configFile().string());
}

INSTANTIATE_TEST_SUITE_P(Modes, StoppedSuccessorChaosTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

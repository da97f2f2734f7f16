// Chaos on the host: a new version whose log cannot be written. `gwctl upgrade --log FILE`
// writes the log's first line before it starts anything, so a full device (/dev/full, and a
// full tmpfs the test mounts in a mount namespace of its own) is refused with the file and the
// errno, nothing is started, and the running version serves on untouched under load.
#include <sys/stat.h>
#include <unistd.h>

#include "support/privilege.h"
#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class LogFullChaosTest : public UpgradeTest {
protected:
    // The refusal, and a running version that nothing touched, serving a light load throughout.
    void expectRefusedUntouched(const std::function<CommandResult()>& run_upgrade, const std::string& log) {
        const auto before = controlStatus();
        ASSERT_EQ(before.value("versions", nlohmann::json::array()).size(), 1u) << before.dump(2);
        const int old_pid = before["versions"][0].value("pid", 0);
        constexpr int kSeconds = 3;
        ChildProcess load;
        ASSERT_TRUE(startLoad(load, kSeconds, 200, 5, 1));
        std::this_thread::sleep_for(500ms);
        const auto result = run_upgrade();
        EXPECT_NE(result.exit_code, 0) << result.out;
        EXPECT_NE(result.err.find(log), std::string::npos) << "the error names the log:\n" << result.err;
        EXPECT_NE(result.err.find("No space left on device"), std::string::npos) << result.err;
        EXPECT_NE(result.err.find("nothing was started"), std::string::npos) << result.err;
        EXPECT_EQ(result.out.find("started "), std::string::npos) << result.out;
        const auto after = controlStatus();
        EXPECT_EQ(after.value("versions", nlohmann::json::array()).size(), 1u) << after.dump(2);
        EXPECT_EQ(after["versions"][0].value("pid", 0), old_pid);
        EXPECT_EQ(after.value("upgrade_state", ""), "none");
        const auto summary = finishLoad(load, kSeconds);
        EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2) << "\n" << last_load_stderr_;
        EXPECT_EQ(summary.value("versions", nlohmann::json::object()).size(), 1u) << summary["versions"].dump(2);
    }
};

TEST_P(LogFullChaosTest, ALogOnAFullDeviceIsRefusedWithTheReason) {
    ASSERT_TRUE(startGateway());
    expectRefusedUntouched(
        [&] {
            return gwctl({"upgrade", "--binary", hotgateBBinary(), "--config", gateway_.configFile().string(), "--log",
                          "/dev/full"});
        },
        "/dev/full");
}

// A real filesystem that is full: a 16 KiB tmpfs filled up, in a mount namespace that only
// this gwctl sees (unshare --mount: the host's mounts are untouched).
TEST_P(LogFullChaosTest, ALogOnAFullFilesystemIsRefusedWithTheReason) {
    HOTGATE_NEEDS_PRIVILEGE("mounting a tmpfs in a mount namespace of its own");
    ASSERT_TRUE(startGateway());
    const auto mount_point = gateway_.dir() / "full";
    std::filesystem::create_directory(mount_point);
    const auto log = (mount_point / "successor.log").string();
    std::string gwctl_line;
    for (const auto& arg : std::vector<std::string>{gwctlBinary(), "--control", controlSocket(), "--admin",
                                                    "127.0.0.1:" + std::to_string(adminPort()), "upgrade", "--binary",
                                                    hotgateBBinary(), "--config", gateway_.configFile().string(),
                                                    "--log", log})
        gwctl_line += " '" + arg + "'";
    const std::string script = "set -e\nmount -t tmpfs -o size=16k hotgate-test-full '" + mount_point.string() +
                               "'\n"
                               "dd if=/dev/zero of='" + (mount_point / "filler").string() +
                               "' bs=4k count=64 2>/dev/null || true\n"
                               "exec" + gwctl_line + "\n";
    expectRefusedUntouched(
        [&] {
            return runCommand({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script},
                              gateway_.dir(), 60s);
        },
        log);
}

INSTANTIATE_TEST_SUITE_P(Modes, LogFullChaosTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

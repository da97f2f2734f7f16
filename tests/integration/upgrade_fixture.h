// UpgradeTest: a gateway under test plus what an upgrade test drives through gwctl (upgrade,
// cutover, commit, rollback), the control socket's status, and tools/loadgen. Parameterized by
// the steering mode ("auto": BPF when possible, "off": listener-fd takeover).
#pragma once

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/control_server.h"
#include "control/fd_passing.h"
#include "gateway_fixture.h"
#include "support/child_process.h"

namespace hotgate::test {

using namespace std::chrono_literals;

inline std::string loadgenBinary() { return std::string(HOTGATE_BIN_DIR) + "/loadgen"; }
inline std::string hotgateBBinary() { return std::string(HOTGATE_BIN_DIR) + "/hotgate_b"; }

class UpgradeTest : public GatewayFixture, public ::testing::WithParamInterface<const char*> {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        config_.workers = 2;
        config_.steering = GetParam();
        // Old versions let their WebSocket streams run until they end: longer than any test load.
        config_.drain = "60s";
        if (std::string(GetParam()) == "auto" && ::geteuid() != 0) {
            if (std::getenv("HOTGATE_REQUIRE_PRIVILEGED")) FAIL() << "BPF mode needs root, and privilege is required";
            GTEST_SKIP() << "BPF-mode upgrade needs root (CAP_BPF, CAP_NET_ADMIN)";
        }
    }

    // Every version the test started through gwctl is its to stop: later versions are not
    // children of the fixture's process, and must not outlive the test.
    void TearDown() override {
        for (pid_t pid : started_pids_) ::kill(pid, SIGKILL);
        // The versions gwctl started log next to the control socket: show them on failure.
        if (HasFailure()) {
            for (const auto& entry : std::filesystem::directory_iterator(gateway_.dir())) {
                const auto name = entry.path().filename().string();
                if (name.rfind("hotgate-", 0) != 0 || entry.path().extension() != ".log") continue;
                auto text = readFile(entry.path());
                if (text.size() > 3000) text = text.substr(text.size() - 3000);
                std::cerr << "--- " << name << " (tail) ---\n" << text;
            }
        }
        GatewayFixture::TearDown();
    }

    CommandResult upgrade(const std::string& binary, const std::string& config_file,
                          std::vector<std::string> extra = {}) {
        std::vector<std::string> args{"upgrade", "--binary", binary, "--config", config_file};
        args.insert(args.end(), extra.begin(), extra.end());
        auto result = gwctl(args);
        // "started BINARY (pid N, log FILE)"
        if (auto at = result.out.find("(pid "); at != std::string::npos)
            started_pids_.push_back(std::atoi(result.out.c_str() + at + 5));
        return result;
    }

    std::string controlSocket() const { return gateway_.controlSocket().string(); }

    // The control socket's Status reply; an empty object when nobody answers (e.g. in the
    // instant a committed successor renames its socket into place), so callers poll on.
    nlohmann::json controlStatus() {
        auto fd = control::connectControl(controlSocket());
        if (!fd) return nlohmann::json::object();
        if (!control::sendMessage(fd->get(), control::MessageType::Status, nlohmann::json::object()))
            return nlohmann::json::object();
        auto reply = control::receiveMessage(fd->get(), 5s);
        return reply ? reply->payload : nlohmann::json::object();
    }

    // Waits until only one version runs (the old one finished draining and exited).
    bool onlyOneVersionLeft(std::chrono::milliseconds timeout = 15s) {
        return eventually([&] { return controlStatus().value("versions", nlohmann::json::array()).size() == 1; },
                          timeout);
    }

    // Waits until `version` answers the control socket as the running version with no upgrade
    // under way (its predecessor may still be draining its WebSockets).
    bool settledOn(const std::string& version, std::chrono::milliseconds timeout = 15s) {
        return eventually(
            [&] {
                const auto status = controlStatus();
                const auto versions = status.value("versions", nlohmann::json::array());
                return status.value("upgrade_state", "") == "none" && !versions.empty() &&
                       versions[0].value("version", "") == version && versions[0].value("phase", "") == "active";
            },
            timeout);
    }

    // Starts loadgen; its JSON summary goes to <dir>/load.json.
    ::testing::AssertionResult startLoad(ChildProcess& load, int seconds, int rate, int keepalive, int streams,
                                         const std::vector<std::string>& extra = {}) {
        std::string error;
        const auto dir = gateway_.dir();
        std::vector<std::string> argv{loadgenBinary(), "--target", "127.0.0.1:" + std::to_string(port()), "--duration",
                                      std::to_string(seconds), "--rate", std::to_string(rate), "--keepalive",
                                      std::to_string(keepalive), "--streams", std::to_string(streams), "--stream-path",
                                      "/ws", "--path", "/load", "--json", (dir / "load.json").string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        if (!load.start(argv, dir / "load.out", dir / "load.err", error))
            return ::testing::AssertionFailure() << "loadgen did not start: " << error;
        return ::testing::AssertionSuccess();
    }

    nlohmann::json finishLoad(ChildProcess& load, int seconds) {
        auto code = load.waitExit(std::chrono::seconds(seconds + 30));
        EXPECT_TRUE(code.has_value()) << "loadgen did not stop by itself";
        auto text = readFile(gateway_.dir() / "load.json");
        auto summary = nlohmann::json::parse(text, nullptr, false);
        EXPECT_FALSE(summary.is_discarded()) << "loadgen wrote no JSON summary; stderr:\n" << load.readStderr();
        last_load_stderr_ = load.readStderr();
        return summary;
    }

    // One upgrade -> cutover -> commit cycle; returns the new version's pid.
    void upgradeCycle(const std::string& binary, const std::string& config_file) {
        auto upgraded = upgrade(binary, config_file);
        ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
        // "ready: VERSION (pid N, ...)"
        const auto ready_at = upgraded.out.find("ready: ");
        ASSERT_NE(ready_at, std::string::npos) << upgraded.out;
        const std::string new_version = upgraded.out.substr(ready_at + 7, upgraded.out.find(' ', ready_at + 7) - ready_at - 7);
        auto cut = gwctl({"cutover"});
        ASSERT_EQ(cut.exit_code, 0) << cut.out << cut.err;
        // The very next new connection is served by the new version.
        EXPECT_EQ(std::string(httpGet(port(), "/").response["x-hotgate-version"]), new_version);
        std::this_thread::sleep_for(300ms);
        gateway_.expectExit();  // the first version leaves at its commit; later ones are not ours
        auto committed = gwctl({"commit"});
        ASSERT_EQ(committed.exit_code, 0) << committed.out << committed.err;
        ASSERT_TRUE(settledOn(new_version)) << "the new version did not take over the control socket";
    }

    // `count` upgrade cycles on the gateway's own config, binary B first, then A, B, ...; the
    // time they took. Stops at the first cycle that fails (a fatal failure).
    std::chrono::milliseconds alternatingUpgradeCycles(int count) {
        const std::string binaries[] = {hotgateBBinary(), hotgateBinary()};
        const auto started = std::chrono::steady_clock::now();
        for (int cycle = 1; cycle <= count; ++cycle) {
            SCOPED_TRACE("cycle " + std::to_string(cycle));
            upgradeCycle(binaries[(cycle - 1) % 2], gateway_.configFile().string());
            if (::testing::Test::HasFatalFailure()) break;
        }
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    }

    std::string last_load_stderr_;
    std::vector<pid_t> started_pids_;
};

}  // namespace hotgate::test

// Hot upgrade end to end, with real processes: the running hotgate, the new version started
// by `gwctl upgrade`, gwctl itself, and tools/loadgen driving new-connection, keep-alive and
// WebSocket traffic through it all. In BPF mode and in takeover mode.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "control/control_server.h"
#include "control/fd_passing.h"
#include "upgrade_fixture.h"
#include "keyed_upstreams.h"
#include "support/child_process.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

TEST_P(UpgradeTest, TenCyclesUnderLoadFailNoRequest) {
    ASSERT_TRUE(startGateway());
    // Config-only changes flip between two files that differ in one route's body.
    const auto config_a = gateway_.configFile().string();
    auto changed = gateway_.writtenConfig();
    changed.routes.insert(changed.routes.begin(), {"extra", "{ path: /extra }", "", 200, "extra\n"});
    const auto config_b = gateway_.writeFile("changed.yaml", changed.toYaml()).string();

    constexpr int kSeconds = 30;
    ChildProcess load;
    ASSERT_TRUE(startLoad(load, kSeconds, 2000, 50, 20));
    std::this_thread::sleep_for(1s);
    // Binaries alternate A/B; cycles 3, 6 and 9 change only the config.
    const std::string binaries[] = {hotgateBBinary(), hotgateBinary()};
    int binary = 0;
    bool other_config = false;
    for (int cycle = 1; cycle <= 10; ++cycle) {
        if (cycle % 3 == 0) other_config = !other_config;
        else binary = 1 - binary;
        SCOPED_TRACE("cycle " + std::to_string(cycle));
        upgradeCycle(binaries[binary], other_config ? config_b : config_a);
        if (HasFatalFailure()) return;
    }
    const auto summary = finishLoad(load, kSeconds);
    EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2) << "\n" << last_load_stderr_;
    // Two binaries x two configs: the load saw all four versions (each cutover checked above).
    EXPECT_EQ(summary.value("versions", nlohmann::json::object()).size(), 4u) << summary["versions"].dump(2);
    EXPECT_GT(summary["kinds"]["keepalive"]["outcomes"].value("ok", 0), 0);
    EXPECT_EQ(summary["kinds"]["stream"].value("failed", -1), 0) << "every stream intact";
}

// A keep-alive connection idle for more than 100 ms parks: no coroutine, no read buffer, only
// a readiness wait (HttpConnection::park). Parked connections, and those waking up while the
// commit hands connections over, move to the new version like any other: nothing fails, and an
// idle client finds its same connection served by the new version.
TEST_P(UpgradeTest, ParkedKeepAliveConnectionsAreHandedOverAndFailNothing) {
    ASSERT_TRUE(startGateway());
    std::vector<std::unique_ptr<HttpClient>> idle;
    for (int i = 0; i < 10; ++i) {
        idle.push_back(std::make_unique<HttpClient>(port()));
        auto r = idle.back()->get("/");
        ASSERT_TRUE(r.ok()) << r.error();
        ASSERT_EQ(r.status(), 200u);
    }
    constexpr int kSeconds = 12;
    ChildProcess load;
    // Pauses around the park delay: some clients park, some wake during the hand-over.
    ASSERT_TRUE(startLoad(load, kSeconds, 100, 40, 0,
                          {"--keepalive-mode", "paused", "--pause-min-ms", "50", "--pause-max-ms", "300"}));
    std::this_thread::sleep_for(500ms);
    const std::string binaries[] = {hotgateBBinary(), hotgateBinary()};
    for (const auto& binary : binaries) {
        SCOPED_TRACE(binary);
        upgradeCycle(binary, gateway_.configFile().string());
        if (HasFatalFailure()) return;
        const std::string version(httpGet(port(), "/").response["x-hotgate-version"]);
        for (auto& client : idle) {
            auto r = client->get("/");
            ASSERT_TRUE(r.ok()) << r.error();
            EXPECT_EQ(r.status(), 200u);
            EXPECT_EQ(std::string(r.response["x-hotgate-version"]), version) << "served by the old version";
        }
        std::this_thread::sleep_for(500ms);  // park again before the next cycle
    }
    for (auto& client : idle) EXPECT_EQ(client->connects(), 1) << "an idle connection was closed, not handed over";
    const auto summary = finishLoad(load, kSeconds);
    EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2) << "\n" << last_load_stderr_;
    EXPECT_GT(summary["kinds"]["keepalive"]["outcomes"].value("ok", 0), 0);
}

// Consistent hashing holds across versions: the placement is a pure function of the endpoint
// set, so the same keys land on the same endpoints in every worker of the old version and of
// the new one (another binary) after upgrade, cutover and commit.
TEST_P(UpgradeTest, HashedKeysLandOnTheSameEndpointsAfterAnUpgrade) {
    constexpr int kKeys = 10000;
    KeyedUpstreams keyed(5);
    keyed.addTo(config_, "hashed", "maglev");
    ASSERT_TRUE(startGateway());
    const auto expected = keyed.expectedPlacement(LbPolicy::Maglev, kKeys);
    ASSERT_EQ(KeyedUpstreams::sendKeys(port(), "old", kKeys), 0);
    EXPECT_EQ(keyed.misplaced("old", expected), std::vector<int>{});
    upgradeCycle(hotgateBBinary(), gateway_.configFile().string());
    if (HasFatalFailure()) return;
    ASSERT_EQ(KeyedUpstreams::sendKeys(port(), "new", kKeys), 0);
    EXPECT_EQ(keyed.misplaced("new", expected), std::vector<int>{});
    EXPECT_NE(httpGet(port(), "/").response["x-hotgate-version"], "") << "the new version answers";
}

TEST_P(UpgradeTest, RollbackUnderLoadFailsNothingAndReturnsNewConnections) {
    ASSERT_TRUE(startGateway());
    const std::string old_version(httpGet(port(), "/").response["x-hotgate-version"]);
    ChildProcess load;
    constexpr int kSeconds = 8;
    ASSERT_TRUE(startLoad(load, kSeconds, 1000, 20, 5));
    std::this_thread::sleep_for(1s);
    auto upgraded = upgrade(hotgateBBinary(), gateway_.configFile().string());
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    ASSERT_EQ(gwctl({"cutover"}).exit_code, 0);
    std::this_thread::sleep_for(1s);
    auto rolled = gwctl({"rollback"});
    ASSERT_EQ(rolled.exit_code, 0) << rolled.out << rolled.err;
    ASSERT_TRUE(onlyOneVersionLeft());
    EXPECT_EQ(std::string(httpGet(port(), "/").response["x-hotgate-version"]), old_version);
    const auto summary = finishLoad(load, kSeconds);
    EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2) << "\n" << last_load_stderr_;
    EXPECT_GE(summary.value("versions", nlohmann::json::object()).size(), 2u);
}

TEST_P(UpgradeTest, BrokenNewVersionsNeverReachTraffic) {
    ASSERT_TRUE(startGateway());
    const auto before = controlStatus()["versions"][0];
    auto expectRefused = [&](std::vector<std::string> args, const std::string& reason) {
        auto result = gwctl(args, 40s);
        EXPECT_NE(result.exit_code, 0) << result.out;
        EXPECT_NE(result.err.find(reason), std::string::npos) << "stderr:\n" << result.err;
        EXPECT_EQ(httpGet(port(), "/").status(), 200) << "the running version must serve on";
        EXPECT_TRUE(onlyOneVersionLeft(5s));
        EXPECT_EQ(controlStatus()["versions"][0].value("pid", 0), before.value("pid", -1));
    };
    const auto bad_config = gateway_.writeFile("bad.yaml", "workers: 1\nlisteners: nope\n").string();
    expectRefused({"upgrade", "--binary", hotgateBinary(), "--config", bad_config}, "rejects");
    expectRefused({"upgrade", "--binary", "/nonexistent/hotgate"}, "No such file");
    // A binary that validates configs but crashes when it starts.
    const auto crasher = gateway_.writeFile("crasher.sh", "#!/bin/sh\ncase \"$1\" in --check-config) exec " +
                                                              hotgateBinary() + " \"$@\";; esac\nkill -SEGV $$\n");
    ::chmod(crasher.c_str(), 0755);
    expectRefused({"upgrade", "--binary", crasher.string()}, "exited before it was ready");
    // One that starts but never becomes ready.
    const auto hanger = gateway_.writeFile("hanger.sh", "#!/bin/sh\ncase \"$1\" in --check-config) exec " +
                                                            hotgateBinary() + " \"$@\";; esac\nexec sleep 60\n");
    ::chmod(hanger.c_str(), 0755);
    expectRefused({"upgrade", "--binary", hanger.string(), "--timeout", "2s"}, "not ready within 2s");
}

TEST_P(UpgradeTest, KilledNewVersionIsRolledBackByTheOldOne) {
    ASSERT_TRUE(startGateway());
    const std::string old_version(httpGet(port(), "/").response["x-hotgate-version"]);
    ChildProcess load;
    constexpr int kSeconds = 6;
    ASSERT_TRUE(startLoad(load, kSeconds, 500, 10, 0));
    std::this_thread::sleep_for(500ms);
    ASSERT_EQ(upgrade(hotgateBBinary(), gateway_.configFile().string()).exit_code, 0);
    const int successor = controlStatus()["versions"][1].value("pid", 0);
    ASSERT_GT(successor, 0);
    ASSERT_EQ(gwctl({"cutover"}).exit_code, 0);
    std::this_thread::sleep_for(1s);
    const auto versions_at_kill = controlStatus().value("versions", nlohmann::json::array());
    ASSERT_EQ(versions_at_kill.size(), 2u) << "the new version must still run before the test kills it";
    const auto at_kill = versions_at_kill[1];
    ASSERT_EQ(::kill(successor, SIGKILL), 0);
    // The old version notices, writes the entry back and logs why.
    ASSERT_TRUE(eventually([&] { return controlStatus().value("versions", nlohmann::json::array()).size() == 1; }, 5s));
    EXPECT_TRUE(eventually([&] { return gateway_.stderrText().find("auto-rollback") != std::string::npos; }));
    EXPECT_EQ(std::string(httpGet(port(), "/").response["x-hotgate-version"]), old_version);
    const auto summary = finishLoad(load, kSeconds);
    // Only what the killed process held can fail: its open connections at that moment, and the
    // new connections the kernel had queued to it in the instant before the entry flipped back.
    const int held = at_kill.value("connections", 0);
    EXPECT_LE(summary.value("failed", 0), held + 25) << summary.dump(2);
}

INSTANTIATE_TEST_SUITE_P(Modes, UpgradeTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

// The control socket is for the gateway's own uid: anyone else is refused and nothing changes.
TEST_F(GatewayFixture, ControlSocketRefusesOtherUidsAndMalformedMessages) {
    if (::geteuid() != 0) GTEST_SKIP() << "switching uid needs root";
    ASSERT_TRUE(startGateway());
    const std::string path = gateway_.controlSocket().string();
    // Another uid: a child that drops to nobody and asks for Status.
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
        auto fd = control::connectControl(path);
        if (!fd) ::_exit(11);  // it may not even connect: the directory is 0700
        auto reply = control::receiveMessage(fd->get(), 5s);
        ::_exit(reply && reply->type == control::MessageType::Error ? 0 : 12);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_TRUE(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 11) << "exit " << WEXITSTATUS(status);

    // Garbage, a truncated frame, an oversized one: each costs its own connection only.
    auto sendRaw = [&](const std::string& bytes) {
        auto fd = control::connectControl(path);
        ASSERT_TRUE(fd);
        ASSERT_EQ(::write(fd->get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
        ::shutdown(fd->get(), SHUT_WR);
        char sink[256];
        while (::read(fd->get(), sink, sizeof sink) > 0) {
        }
    };
    sendRaw("GET / HTTP/1.1\r\n\r\n");
    control::FrameHeader header{};
    std::memcpy(header.magic, control::kMagic, 4);
    header.version = control::kControlProtocolVersion;
    header.type = static_cast<std::uint16_t>(control::MessageType::Status);
    header.length = 1000;
    sendRaw(std::string(reinterpret_cast<char*>(&header), 8));  // truncated header
    sendRaw(std::string(reinterpret_cast<char*>(&header), sizeof header) + "{\"x\":");  // truncated payload
    header.length = 64 << 20;
    sendRaw(std::string(reinterpret_cast<char*>(&header), sizeof header));  // oversized
    header.version = 99;
    header.length = 2;
    sendRaw(std::string(reinterpret_cast<char*>(&header), sizeof header) + "{}");  // another protocol

    EXPECT_EQ(httpGet(port(), "/").status(), 200);
    auto fd = control::connectControl(path);
    ASSERT_TRUE(fd);
    ASSERT_TRUE(control::sendMessage(fd->get(), control::MessageType::Status, nlohmann::json::object()));
    auto reply = control::receiveMessage(fd->get(), 5s);
    ASSERT_TRUE(reply) << reply.error().message;
    EXPECT_EQ(reply->type, control::MessageType::StatusReply);
    EXPECT_TRUE(gateway_.running());
}

}  // namespace
}  // namespace hotgate::test

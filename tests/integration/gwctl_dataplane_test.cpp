// gwctl's data plane commands against a real hotgate in BPF mode, with leftovers of gone
// versions (pin groups whose sockets and pids are all gone) beside its own groups: a gateway
// removes them when it starts, `gwctl dataplane --prune` removes them while it runs, and
// canary and cutover act on the running gateway's own listeners (asked over the control
// socket) instead of refusing to choose among every group pinned.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "control/control_server.h"
#include "control/fd_passing.h"
#include "dataplane/steer_loader.h"
#include "gateway_fixture.h"
#include "support/child_process.h"
#include "support/privilege.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class GwctlDataplaneTest : public GatewayFixture {
protected:
    void SetUp() override {
        HOTGATE_NEEDS_PRIVILEGE("BPF mode");
        GatewayFixture::SetUp();
        config_.steering = "auto";
        config_.workers = 1;
        root_ = std::make_unique<ScopedBpffsRoot>(::testing::UnitTest::GetInstance()->current_test_info()->name());
        ASSERT_TRUE(root_->ok()) << root_->error();
        config_.bpffs_root = root_->path();
    }

    void TearDown() override {
        GatewayFixture::TearDown();
        if (gateway_.pid() > 0 && gateway_.running()) {
            gateway_.signal(SIGTERM);
            (void)gateway_.waitExit(10s);
        }
        root_.reset();
    }

    std::string group(const std::string& listener) const { return root_->path() + "/" + listener; }

    // The pin group of listener `name` as a version that attached and exited leaves it.
    ::testing::AssertionResult plantLeftover(const std::string& name) {
        pid_t child = ::fork();
        if (child < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
        if (child == 0) {
            UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
            int one = 1;
            ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd.get(), 16) != 0)
                ::_exit(2);
            int fds[] = {fd.get()};
            auto loader = dataplane::SteerLoader::attachListener(name, fds, 0, true, root_->path());
            ::_exit(loader ? 0 : 1);
        }
        int status = 0;
        if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return ::testing::AssertionFailure() << "the version of listener " << name << " could not attach";
        if (!dataplane::pinExists(group(name) + "/steer_ctl_map"))
            return ::testing::AssertionFailure() << "no group pinned at " << group(name);
        return ::testing::AssertionSuccess();
    }

    // gwctl talking to this test's gateway, without --bpffs: it must find the root by asking.
    CommandResult gwctl(std::vector<std::string> args) {
        std::vector<std::string> argv{gwctlBinary(), "--control", gateway_.controlSocket().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, gateway_.dir(), 30s);
    }

    nlohmann::json controlStatus() {
        auto fd = control::connectControl(gateway_.controlSocket().string());
        if (!fd) return nlohmann::json::object();
        if (!control::sendMessage(fd->get(), control::MessageType::Status, nlohmann::json::object()))
            return nlohmann::json::object();
        auto reply = control::receiveMessage(fd->get(), 5s);
        return reply ? reply->payload : nlohmann::json::object();
    }

    std::unique_ptr<ScopedBpffsRoot> root_;
};

TEST_F(GwctlDataplaneTest, GatewayStartRemovesLeftoversOfGoneVersions) {
    ASSERT_TRUE(plantLeftover("stale"));
    ASSERT_TRUE(startGateway());
    EXPECT_FALSE(dataplane::pinExists(group("stale"))) << "the leftover outlived a gateway start";
    EXPECT_TRUE(dataplane::pinExists(group("public") + "/steer_ctl_map"));
    const std::string logged = "removed steer listener group " + group("stale");
    EXPECT_TRUE(eventually([&] { return gateway_.stderrText().find(logged) != std::string::npos; }))
        << "no '" << logged << "' in the log:\n" << gateway_.stderrText();
    auto served = httpGet(port(), "/direct");
    ASSERT_TRUE(served.ok()) << served.error();
    EXPECT_EQ(served.status(), 200);
}

TEST_F(GwctlDataplaneTest, CanaryAndCutoverDefaultToTheRunningGatewaysListeners) {
    ASSERT_TRUE(startGateway());
    ASSERT_TRUE(plantLeftover("https"));  // after the start: nothing has collected it

    const auto status = controlStatus();
    EXPECT_EQ(status.value("bpffs_root", ""), root_->path()) << status.dump();
    ASSERT_EQ(status.value("listeners", nlohmann::json::array()).size(), 1u) << status.dump();
    EXPECT_EQ(status["listeners"][0].value("name", ""), "public") << status.dump();

    auto canary = gwctl({"canary", "--to", "0", "--weight", "0"});
    EXPECT_EQ(canary.exit_code, 0) << canary.err;
    EXPECT_NE(canary.out.find("listener public: canary off"), std::string::npos) << canary.out;
    EXPECT_EQ(canary.out.find("https"), std::string::npos) << "a group of no running gateway was written: "
                                                           << canary.out;
    auto cutover = gwctl({"cutover", "--to", "0"});
    EXPECT_EQ(cutover.exit_code, 0) << cutover.err;
    EXPECT_NE(cutover.out.find("listener public: new connections go to slot 0"), std::string::npos) << cutover.out;
    // A slot nobody serves is still refused, for the gateway's listeners as before.
    auto empty = gwctl({"canary", "--to", "1", "--weight", "5%"});
    EXPECT_EQ(empty.exit_code, 1) << empty.out;
    EXPECT_NE(empty.err.find("slot 1 of listener public has no live socket; refusing canary"), std::string::npos)
        << empty.err;

    // With no gateway answering, gwctl cannot tell whose the groups are, and says so.
    auto blind = runCommand({gwctlBinary(), "--control", (gateway_.dir() / "nobody.sock").string(), "--bpffs",
                             root_->path(), "canary", "--to", "0", "--weight", "0"},
                            gateway_.dir(), 30s);
    EXPECT_EQ(blind.exit_code, 1) << blind.out;
    EXPECT_NE(blind.err.find("several listeners pinned (https, public): pass --listener"), std::string::npos)
        << blind.err;
}

TEST_F(GwctlDataplaneTest, DataplanePruneRemovesOnlyLeftovers) {
    ASSERT_TRUE(startGateway());
    ASSERT_TRUE(plantLeftover("https"));
    const std::string health_meta = root_->path() + "/health-v3/health_meta_map";
    const bool had_health = dataplane::pinExists(health_meta);

    auto pruned = gwctl({"dataplane", "--prune"});
    EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_NE(pruned.out.find("prune: removed steer listener group " + group("https")), std::string::npos)
        << pruned.out;
    EXPECT_EQ(pruned.out.find("removed steer listener group " + group("public")), std::string::npos) << pruned.out;
    EXPECT_NE(pruned.out.find("listener public: active slot 0"), std::string::npos)
        << "the status after the prune shows the gateway's group:\n" << pruned.out;
    EXPECT_FALSE(dataplane::pinExists(group("https")));
    EXPECT_TRUE(dataplane::pinExists(group("public") + "/steer_ctl_map"));
    EXPECT_EQ(dataplane::pinExists(health_meta), had_health) << "the running gateway's health set was taken apart";

    auto served = httpGet(port(), "/direct");
    ASSERT_TRUE(served.ok()) << served.error();
    EXPECT_EQ(served.status(), 200);
    auto again = gwctl({"dataplane", "--prune"});
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("prune: nothing to remove under " + root_->path()), std::string::npos) << again.out;
}

}  // namespace
}  // namespace hotgate::test

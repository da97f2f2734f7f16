// What gwctl says when something is wrong, as a new operator meets it: a new binary that fails
// before it could check the config is not reported as a config rejection (and its exit status
// is the status, not a raw wait status); a user who may not use the control socket is told
// whose it is; an XDP front nobody configured is "not configured", not an error; a command
// line gwctl cannot parse exits 2, the documented usage status.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class GwctlMessagesTest : public GatewayFixture {};

TEST_F(GwctlMessagesTest, ABinaryThatFailsBeforeCheckingIsNotCalledAConfigRejection) {
    ASSERT_TRUE(startGateway());
    const auto exits = gateway_.writeFile("exits3.sh", "#!/bin/sh\nexit 3\n");
    ::chmod(exits.c_str(), 0755);
    const auto result = gwctl({"upgrade", "--binary", exits.string()}, 40s);
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    EXPECT_NE(result.err.find("the new binary " + exits.string() + " failed while checking"), std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("(exit status 3). Nothing was started; the running version serves on."),
              std::string::npos)
        << result.err;
    EXPECT_EQ(result.err.find("rejects"), std::string::npos) << result.err;
    // A real rejection still reads as one, its sentences apart.
    const auto bad = gateway_.writeFile("bad.yaml", "workers: 1\nlisteners: nope\n");
    const auto rejected = gwctl({"upgrade", "--binary", hotgateBinary(), "--config", bad.string()}, 40s);
    EXPECT_EQ(rejected.exit_code, 1) << rejected.out << rejected.err;
    EXPECT_NE(rejected.err.find("the new version rejects " + bad.string() + ":\n"), std::string::npos)
        << rejected.err;
    EXPECT_NE(rejected.err.find("\nThe running version serves on."), std::string::npos) << rejected.err;
    EXPECT_EQ(httpGet(port(), "/").status(), 200);
}

TEST_F(GwctlMessagesTest, AUserWithoutAccessToTheControlSocketIsToldWhoseItIs) {
    ASSERT_TRUE(startGateway());
    const auto result =
        runCommand({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", gwctlBinary(), "--control",
                    gateway_.controlSocket().string(), "config", "history"},
                   "/", 30s);
    EXPECT_NE(result.exit_code, 0) << result.out;
    EXPECT_NE(result.err.find("is for the gateway's user: run gwctl as that user (or with sudo)"), std::string::npos)
        << result.err;
}

TEST_F(GwctlMessagesTest, AnXdpFrontNobodyConfiguredIsNotConfigured) {
    ASSERT_TRUE(startGateway());
    const auto status = gwctl({"status"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    if (status.out.find("dataplane:") == std::string::npos)
        GTEST_SKIP() << "the gateway runs in takeover mode (no BPF privilege): gwctl status shows no dataplane";
    EXPECT_NE(status.out.find("xdp front: not configured"), std::string::npos) << status.out;
    EXPECT_EQ(status.out.find("No such file"), std::string::npos) << status.out;
}

TEST(GwctlUsage, CommandLineErrorsExitTwo) {
    const auto dir = std::filesystem::temp_directory_path();
    const auto unknown = runCommand({gwctlBinary(), "--control-socket", "/nonexistent/control.sock", "status"}, dir, 15s);
    EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
    EXPECT_NE(unknown.err.find("--control-socket"), std::string::npos) << unknown.err;
    const auto missing = runCommand({gwctlBinary(), "fleet", "upgrade", "--binary", "/usr/sbin/hotgate"}, dir, 15s);
    EXPECT_EQ(missing.exit_code, 2) << missing.err;
    EXPECT_NE(missing.err.find("--sha256"), std::string::npos) << missing.err;
    const auto help = runCommand({gwctlBinary(), "fleet", "--help"}, dir, 15s);
    EXPECT_EQ(help.exit_code, 0) << help.err;
    EXPECT_NE(help.out.find("upgrade"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace hotgate::test

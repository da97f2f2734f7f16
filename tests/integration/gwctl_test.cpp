// gwctl status against a running hotgate: it reads the admin /status and prints it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

class GwctlTest : public GatewayFixture {
protected:
    std::string adminAddress() const { return "127.0.0.1:" + std::to_string(adminPort()); }
};

TEST_F(GwctlTest, StatusPrintsVersionPidHashModeAndListeners) {
    ASSERT_TRUE(startGateway());
    auto served = httpGet(port(), "/direct");
    ASSERT_TRUE(served.ok()) << served.error();
    std::string version = served.header("x-hotgate-version");
    ASSERT_FALSE(version.empty());
    std::string hash = version.substr(version.find('/') + 1);

    auto r = runCommand({gwctlBinary(), "status", "--admin", adminAddress()}, gateway_.dir());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(version.substr(0, version.find('/'))), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(hash), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::to_string(gateway_.pid())), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("public"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("127.0.0.1:" + std::to_string(port())), std::string::npos) << r.out;
}

TEST_F(GwctlTest, StatusJsonIsTheAdminStatus) {
    ASSERT_TRUE(startGateway());
    auto r = runCommand({gwctlBinary(), "status", "--admin", adminAddress(), "--json"}, gateway_.dir());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto status = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(status.is_discarded()) << "not JSON: " << r.out;
    ASSERT_TRUE(status.contains("pid")) << r.out;
    EXPECT_EQ(status["pid"].get<long>(), static_cast<long>(gateway_.pid()));
    EXPECT_FALSE(status.value("version", "").empty()) << r.out;
}

TEST_F(GwctlTest, StatusFailsWhenNothingListens) {
    auto r = runCommand({gwctlBinary(), "status", "--admin", "127.0.0.1:" + std::to_string(down_port_)},
                        gateway_.dir(), std::chrono::seconds(20));
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.exit_code, -1) << "gwctl hung";
    EXPECT_FALSE(r.err.empty()) << "no error message";
}

}  // namespace
}  // namespace hotgate::test

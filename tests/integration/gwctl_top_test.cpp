// gwctl top against a running gateway with traffic: one frame (--once, or stdout not a
// terminal) with a row per version, rates from two polls, and clear errors for bad arguments.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "health_view_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

// The whitespace-separated fields of the first line of `text` that starts with `prefix`.
std::vector<std::string> rowStartingWith(const std::string& text, const std::string& prefix) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind(prefix, 0) != 0) continue;
        std::istringstream words(line);
        std::vector<std::string> fields;
        for (std::string w; words >> w;) fields.push_back(w);
        return fields;
    }
    return {};
}

class GwctlTopTest : public HealthViewFixture {};

TEST_F(GwctlTopTest, OnceShowsTheActiveVersionWithRatesAndHandshakes) {
    ASSERT_TRUE(startGateway());
    startTraffic();
    ASSERT_TRUE(healthHasTraffic());
    const auto health = this->health();
    nlohmann::json active;
    for (const auto& v : health["versions"])
        if (v.value("active", false)) active = v;
    ASSERT_TRUE(active.is_object()) << health.dump();
    const std::string version = active["version"];

    // Not a terminal (runCommand captures stdout): one frame, no escape sequences.
    auto r = runCommand({gwctlBinary(), "top", "--admin", adminAddress()}, gateway_.dir(), 30s);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "ANSI escapes on a non-terminal:\n" << r.out;
    EXPECT_NE(r.out.find("VERSION"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("SPIKES AND CUTOVERS"), std::string::npos) << r.out;

    // VERSION SLOT ACT REQ/S ERR/S CONNS HS-P50 HS-P99 RST-SENT RST-RECV RETRANS
    const auto row = rowStartingWith(r.out, version + " ");
    ASSERT_GE(row.size(), 11u) << "no row for " << version << ":\n" << r.out;
    EXPECT_EQ(row[1], std::to_string(active.value("slot", -1))) << r.out;
    EXPECT_EQ(row[2], "*") << "the active version is not marked:\n" << r.out;
    EXPECT_GT(std::stod(row[3]), 0.0) << "no request rate while traffic flows:\n" << r.out;
    EXPECT_NE(row[6], "-") << "no handshake p50:\n" << r.out;
    EXPECT_NE(row[7], "-") << "no handshake p99:\n" << r.out;

    // --once on a terminal-less stdout is the same single frame.
    auto once = runCommand({gwctlBinary(), "top", "--once", "--interval", "200ms", "--admin", adminAddress()},
                           gateway_.dir(), 30s);
    ASSERT_EQ(once.exit_code, 0) << once.out << once.err;
    EXPECT_FALSE(rowStartingWith(once.out, version + " ").empty()) << once.out;
}

class GwctlTopArgumentsTest : public GatewayFixture {};

TEST_F(GwctlTopArgumentsTest, BadArgumentsAreClearErrors) {
    const std::string admin = "127.0.0.1:" + std::to_string(down_port_);
    for (const char* interval : {"0s", "soon", "2h"}) {
        auto r = runCommand({gwctlBinary(), "top", "--once", "--interval", interval, "--admin", admin}, gateway_.dir());
        EXPECT_EQ(r.exit_code, 2) << interval << ": " << r.out << r.err;
        EXPECT_NE(r.err.find("--interval"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find(interval), std::string::npos) << r.err;
    }
    auto spikes = runCommand({gwctlBinary(), "top", "--once", "--spikes", "-3", "--admin", admin}, gateway_.dir());
    EXPECT_NE(spikes.exit_code, 0);
    EXPECT_NE(spikes.err.find("--spikes"), std::string::npos) << spikes.err;
}

TEST_F(GwctlTopArgumentsTest, FailsClearlyWhenNothingListens) {
    const std::string admin = "127.0.0.1:" + std::to_string(down_port_);
    auto r = runCommand({gwctlBinary(), "top", "--once", "--admin", admin}, gateway_.dir(), 20s);
    EXPECT_EQ(r.exit_code, 3) << "not reachable: " << r.out << r.err;
    EXPECT_NE(r.err.find("cannot reach hotgate admin at " + admin), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hotgate::test

// health across a real cutover: a hotgate in BPF mode, `gwctl upgrade` to binary B, `gwctl
// cutover`. Connections accepted before the cutover carry the old version's slot in /health,
// /spikes and /metrics; connections accepted after it carry the new one.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.h"
#include "support/child_process.h"
#include "support/privilege.h"
#include "tcp_util.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class HealthCutoverTest : public GatewayFixture {
protected:
    void SetUp() override {
        HOTGATE_NEEDS_PRIVILEGE("BPF mode and the health programs");
        GatewayFixture::SetUp();
        config_.steering = "auto";
        config_.workers = 1;
    }

    void TearDown() override {
        for (pid_t pid : started_pids_) ::kill(pid, SIGKILL);
        GatewayFixture::TearDown();
    }

    CommandResult gwctl(std::vector<std::string> args) {
        std::vector<std::string> argv{gwctlBinary(), "--control", gateway_.controlSocket().string(), "--admin",
                                      "127.0.0.1:" + std::to_string(adminPort())};
        argv.insert(argv.end(), args.begin(), args.end());
        auto result = runCommand(argv, gateway_.dir(), 90s);
        if (auto at = result.out.find("(pid "); at != std::string::npos && args[0] == "upgrade")
            started_pids_.push_back(std::atoi(result.out.c_str() + at + 5));
        return result;
    }

    nlohmann::json getJson(const std::string& target) {
        auto reply = httpGet(adminPort(), target);
        EXPECT_TRUE(reply.ok()) << target << ": " << reply.error();
        if (!reply.ok()) return nlohmann::json::object();
        EXPECT_EQ(reply.status(), 200) << target;
        EXPECT_EQ(std::string(reply.response["content-type"]), "application/json");
        auto json = nlohmann::json::parse(reply.response.body(), nullptr, false);
        EXPECT_FALSE(json.is_discarded()) << reply.response.body();
        return json.is_discarded() ? nlohmann::json::object() : json;
    }

    static const nlohmann::json* versionInSlot(const nlohmann::json& health, unsigned slot) {
        for (const auto& v : health["versions"])
            if (v["slot"] == slot) return &v;
        return nullptr;
    }

    // One request on an open keep-alive connection; returns the x-hotgate-version that answered.
    static std::string request(int fd) {
        if (!writeAll(fd, "GET /direct HTTP/1.1\r\nHost: t\r\n\r\n")) return "";
        std::string text;
        int err = 0;
        while (text.find("direct\n") == std::string::npos && err == 0) text += readSome(fd, 1, err, 5000);
        const auto at = text.find("x-hotgate-version: ");
        if (at == std::string::npos) return "";
        return text.substr(at + 19, text.find("\r\n", at) - at - 19);
    }

    std::vector<pid_t> started_pids_;
};

TEST_F(HealthCutoverTest, ConnectionsCarryTheSlotOfTheVersionThatAcceptedThem) {
    ASSERT_TRUE(startGateway());
    auto health = getJson("/health");
    ASSERT_EQ(health["available"], true) << health.dump();
    ASSERT_EQ(health["versions"].size(), 1u) << health.dump();
    EXPECT_EQ(health["active_slot"], 0);
    const std::string old_version = health["versions"][0]["version"];

    UniqueFd before = connectTo(port());
    ASSERT_TRUE(before);
    ASSERT_EQ(request(before.get()), old_version);

    auto upgraded = gwctl({"upgrade", "--binary", hotgateBinary() + "_b", "--config", gateway_.configFile().string()});
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    health = getJson("/health");
    const auto* standby = versionInSlot(health, 1);
    ASSERT_NE(standby, nullptr) << "the new version did not register slot 1: " << health.dump();
    EXPECT_EQ((*standby)["connections_total"], 0) << "nothing is steered to a version before its cutover";
    const std::string new_version = (*standby)["version"];
    ASSERT_NE(new_version, old_version);
    const auto old_before_cutover = (*versionInSlot(health, 0))["connections_total"].get<std::uint64_t>();
    EXPECT_GE(old_before_cutover, 1u);

    auto cut = gwctl({"cutover"});
    ASSERT_EQ(cut.exit_code, 0) << cut.out << cut.err;
    constexpr int kAfter = 3;
    std::vector<UniqueFd> after;
    for (int i = 0; i < kAfter; ++i) {
        after.push_back(connectTo(port()));
        ASSERT_TRUE(after.back());
        ASSERT_EQ(request(after.back().get()), new_version);
    }
    // The connection from before the cutover still belongs to the old version.
    ASSERT_EQ(request(before.get()), old_version);

    // Counters are read live; the window's quantiles are refreshed once a second.
    ASSERT_TRUE(eventually(
        [&] {
            health = getJson("/health");
            const auto* v = versionInSlot(health, 1);
            return v && (*v)["connections_total"] == kAfter && (*v)["handshake_us"]["count"] == kAfter;
        },
        5s))
        << health.dump();
    EXPECT_EQ(health["active_slot"], 1);
    EXPECT_EQ((*versionInSlot(health, 0))["connections_total"], old_before_cutover);
    EXPECT_EQ((*versionInSlot(health, 1))["handshake_us"]["count"], kAfter);

    // Resets carry the slot of the version that accepted the connection.
    closeWithReset(before);
    closeWithReset(after[0]);
    nlohmann::json spikes;
    std::vector<unsigned> reset_slots;
    bool cutover_seen = false;
    ASSERT_TRUE(eventually(
        [&] {
            spikes = getJson("/spikes?since=0&limit=100");
            reset_slots.clear();
            cutover_seen = false;
            for (const auto& e : spikes["events"]) {
                if (e["kind"] == "reset_received") reset_slots.push_back(e["slot"]);
                if (e["kind"] == "cutover" && e["from_slot"] == 0 && e["slot"] == 1) cutover_seen = true;
            }
            return reset_slots.size() >= 2 && cutover_seen;
        },
        5s))
        << spikes.dump();
    EXPECT_EQ(reset_slots, (std::vector<unsigned>{0, 1})) << spikes.dump();
    for (const auto& e : spikes["events"])
        if (e["kind"] == "reset_received") {
            EXPECT_EQ(e["version"], e["slot"] == 0 ? old_version : new_version) << e.dump();
        }

    // The same attribution in the Prometheus families.
    EXPECT_TRUE(metricReaches("hotgate_tcp_handshake_seconds_count", {{"version", new_version}}, kAfter));
    EXPECT_EQ(metric("hotgate_tcp_handshake_seconds_count", {{"version", new_version}}), kAfter);
    EXPECT_GE(metric("hotgate_tcp_handshake_seconds_count", {{"version", old_version}}), 1);
    EXPECT_EQ(
        metric("hotgate_tcp_resets_total", {{"version", old_version}, {"direction", "received"}, {"side", "listener"}}),
        1);
    EXPECT_EQ(metric("hotgate_health_info", {{"available", "true"}}), 1);
}

// Without BPF steering (takeover mode) the profile is unavailable, says why, and never pretends.
TEST_F(HealthCutoverTest, TakeoverModeReportsHealthUnavailableWithTheReason) {
    config_.steering = "off";
    ASSERT_TRUE(startGateway());
    auto health = getJson("/health");
    EXPECT_EQ(health["available"], false);
    EXPECT_NE(health["reason"].get<std::string>().find("takeover mode"), std::string::npos) << health.dump();
    EXPECT_TRUE(health["versions"].empty());
    EXPECT_EQ(metric("hotgate_health_info", {{"available", "false"}}), 1);
    auto spikes = getJson("/spikes");
    EXPECT_TRUE(spikes["events"].empty());
}

}  // namespace
}  // namespace hotgate::test

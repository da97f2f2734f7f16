// /dashboard in a real headless browser against a real gateway with traffic flowing: the page
// is self-contained, its charts receive data for every version, a cutover is marked, and an
// unavailable health profile is said on the page. The page mirrors what it drew into data-*
// attributes (#state, each chart's data-points), which is what these tests read.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>

#include "health_view_fixture.h"
#include "support/headless_browser.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string hotgateBBinary() {
    return std::string(HOTGATE_BIN_DIR) + "/hotgate_b";
}
// Screenshots are kept next to the binaries (build/artifacts/), for a human to look at.
std::filesystem::path artifactsDir() {
    return std::filesystem::path(HOTGATE_BIN_DIR).parent_path() / "artifacts";
}

// Chromium is installed by tools/deps with the build group: missing it is a broken test
// machine when privileged tests are required (CI), a skip otherwise.
#define REQUIRE_CHROMIUM()                                                                                     \
    do {                                                                                                       \
        if (chromiumBinary().empty()) {                                                                        \
            if (std::getenv("HOTGATE_REQUIRE_PRIVILEGED")) FAIL() << "chromium is not installed (tools/deps)"; \
            GTEST_SKIP() << "chromium is not installed (tools/deps installs it)";                              \
        }                                                                                                      \
    } while (0)

// The points each series of chart `id` had when the DOM was dumped ({"<version> slot N p50": 7}).
json chartPoints(const std::string& dom, const std::string& id) {
    const auto attributes = elementAttributes(dom, "chart-" + id);
    const auto it = attributes.find("data-points");
    if (it == attributes.end()) return nullptr;
    return json::parse(it->second, nullptr, false);
}

// The points of the series of `version` (slot `slot`) named `line` in chart `id`; 0 when none.
int pointsOf(const std::string& dom, const std::string& id, const std::string& version, int slot,
             const std::string& line) {
    const auto points = chartPoints(dom, id);
    if (!points.is_object()) return 0;
    return points.value(version + " slot " + std::to_string(slot) + " " + line, 0);
}

// The text content of the element with `id` (no nested elements expected).
std::string elementText(const std::string& dom, const std::string& id) {
    const auto at = dom.find("id=\"" + id + "\"");
    if (at == std::string::npos) return {};
    const auto start = dom.find('>', at);
    const auto end = dom.find('<', start);
    return start == std::string::npos || end == std::string::npos ? std::string()
                                                                  : dom.substr(start + 1, end - start - 1);
}

class DashboardPageTest : public GatewayFixture {};

// The page must work on machines without internet access: nothing it loads may come from
// elsewhere, and it must not need any file next to the binary.
TEST_F(DashboardPageTest, IsOneSelfContainedPage) {
    ASSERT_TRUE(startGateway());
    auto reply = httpGet(adminPort(), "/dashboard");
    ASSERT_TRUE(reply.ok()) << reply.error();
    ASSERT_EQ(reply.status(), 200u) << reply.response.body();
    EXPECT_NE(reply.header("content-type").find("text/html"), std::string::npos) << reply.header("content-type");
    const std::string& page = reply.response.body();
    EXPECT_NE(page.find("createElementNS(SVG_NS"), std::string::npos) << "the page draws no SVG";
    EXPECT_NE(page.find("fetchJson(\"/health\")"), std::string::npos) << "the page does not poll /health";
    EXPECT_NE(page.find("\"/spikes?since=\""), std::string::npos) << "the page does not poll /spikes";
    // The one URL allowed is the SVG namespace name, an identifier that is never fetched.
    const std::regex url(R"((https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,})");
    for (auto it = std::sregex_iterator(page.begin(), page.end(), url); it != std::sregex_iterator(); ++it)
        EXPECT_EQ(it->str(), "http://www.w3.org") << "external URL in /dashboard at offset " << it->position();
    EXPECT_EQ(page.find("<link"), std::string::npos) << "the page links an external resource";
    EXPECT_EQ(page.find(" src="), std::string::npos) << "the page loads a script or image from elsewhere";
    EXPECT_EQ(page.find("@import"), std::string::npos);
}

class DashboardTest : public HealthViewFixture {
protected:
    void TearDown() override {
        for (pid_t pid : started_pids_) ::kill(pid, SIGKILL);
        HealthViewFixture::TearDown();
    }

    CommandResult gwctl(std::vector<std::string> args) {
        std::vector<std::string> argv{gwctlBinary(), "--control", gateway_.controlSocket().string(), "--admin",
                                      adminAddress()};
        argv.insert(argv.end(), args.begin(), args.end());
        auto result = runCommand(argv, gateway_.dir(), 60s);
        if (auto at = result.out.find("(pid "); at != std::string::npos)
            started_pids_.push_back(std::atoi(result.out.c_str() + at + 5));
        return result;
    }

    // The DOM after the page ran `polls` one-second polls.
    std::string loadDashboard(int polls = 8) {
        BrowserOptions options;
        options.virtual_time = std::chrono::milliseconds(polls * 1000 + 500);
        auto run = dumpDom(adminUrl("/dashboard"), gateway_.dir(), options);
        EXPECT_EQ(run.exit_code, 0) << "chromium failed: " << run.err.substr(0, 2000);
        EXPECT_NE(run.out.find("id=\"state\""), std::string::npos)
            << "no #state in the DOM: " << run.out.substr(0, 2000);
        return run.out;
    }

    std::vector<pid_t> started_pids_;
};

TEST_F(DashboardTest, ChartsTheActiveVersionFromLiveHealth) {
    REQUIRE_CHROMIUM();
    ASSERT_TRUE(startGateway());
    startTraffic();
    ASSERT_TRUE(healthHasTraffic());
    const json health = this->health();
    json active;
    for (const auto& v : health["versions"])
        if (v.value("active", false)) active = v;
    ASSERT_TRUE(active.is_object()) << health.dump();
    const std::string version = active["version"];
    const int slot = active["slot"];
    EXPECT_EQ(active.value("pid", 0), gateway_.pid()) << health.dump();

    const std::string dom = loadDashboard();
    const auto state = elementAttributes(dom, "state");
    EXPECT_EQ(state.count("data-error") ? state.at("data-error") : "?", "") << "the page reported an error";
    EXPECT_GE(std::atoi(state.count("data-health-ok") ? state.at("data-health-ok").c_str() : "0"), 5)
        << "fewer than 5 successful /health polls in 8 s";
    EXPECT_EQ(state.count("data-available") ? state.at("data-available") : "", "true");
    const json versions = json::parse(state.count("data-versions") ? state.at("data-versions") : "[]", nullptr, false);
    ASSERT_TRUE(versions.is_array()) << dom.substr(0, 2000);
    bool seen_active = false;
    for (const auto& v : versions)
        if (v.value("version", "") == version && v.value("slot", -1) == slot && v.value("active", false))
            seen_active = true;
    EXPECT_TRUE(seen_active) << "the page did not mark " << version << " active: " << versions.dump();

    // A point per poll for levels, one per poll after the first for rates (deltas).
    EXPECT_GE(pointsOf(dom, "requests", version, slot, "req/s"), 4) << chartPoints(dom, "requests").dump();
    EXPECT_GE(pointsOf(dom, "errors", version, slot, "err/s"), 4) << chartPoints(dom, "errors").dump();
    EXPECT_GE(pointsOf(dom, "connections", version, slot, "open"), 5) << chartPoints(dom, "connections").dump();
    EXPECT_GE(pointsOf(dom, "handshake", version, slot, "p50"), 5) << chartPoints(dom, "handshake").dump();
    EXPECT_GE(pointsOf(dom, "handshake", version, slot, "p99"), 5) << chartPoints(dom, "handshake").dump();
    EXPECT_GE(pointsOf(dom, "resets", version, slot, "sent"), 4) << chartPoints(dom, "resets").dump();
    EXPECT_GE(pointsOf(dom, "retransmits", version, slot, "retr/s"), 4) << chartPoints(dom, "retransmits").dump();
    EXPECT_TRUE(chartPoints(dom, "timeline").is_object()) << "no spike timeline";

    // A screenshot for humans (CI keeps build/artifacts).
    std::filesystem::create_directories(artifactsDir());
    const auto png = artifactsDir() / "dashboard.png";
    std::filesystem::remove(png);
    auto shot = screenshot(adminUrl("/dashboard"), png, gateway_.dir());
    ASSERT_EQ(shot.exit_code, 0) << shot.err.substr(0, 2000);
    const std::string bytes = readFile(png);
    ASSERT_GT(bytes.size(), 10000u) << "screenshot " << png << " is missing or tiny";
    EXPECT_EQ(bytes.substr(1, 3), "PNG");
    std::cout << "dashboard screenshot: " << png.string() << "\n";
}

// A real upgrade and cutover: the page shows both versions, the new one active, and marks the
// cutover moment (the "cutover" event in /spikes) on the charts and the timeline.
TEST_F(DashboardTest, MarksTheCutoverAndShowsBothVersions) {
    REQUIRE_CHROMIUM();
    config_.drain = "60s";
    ASSERT_TRUE(startGateway());
    startTraffic();
    ASSERT_TRUE(healthHasTraffic());
    auto upgraded = gwctl({"upgrade", "--binary", hotgateBBinary(), "--config", gateway_.configFile().string()});
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    auto cut = gwctl({"cutover"});
    ASSERT_EQ(cut.exit_code, 0) << cut.out << cut.err;

    // Wait until /health shows the new version active with traffic of its own.
    json health;
    std::string new_version;
    int new_slot = -1, old_slot = -1;
    std::string old_version;
    ASSERT_TRUE(eventually(
        [&] {
            health = this->health();
            if (!health.is_object()) return false;
            for (const auto& v : health.value("versions", json::array())) {
                if (v.value("active", false) && v.value("pid", 0) != gateway_.pid() &&
                    v.value("requests_total", 0) > 0) {
                    new_version = v["version"], new_slot = v["slot"];
                } else if (v.value("pid", 0) == gateway_.pid()) {
                    old_version = v["version"], old_slot = v["slot"];
                }
            }
            return new_slot >= 0 && old_slot >= 0;
        },
        15s))
        << health.dump();
    EXPECT_NE(new_slot, old_slot);

    const std::string dom = loadDashboard();
    const auto state = elementAttributes(dom, "state");
    EXPECT_GE(std::atoi(state.count("data-cutovers") ? state.at("data-cutovers").c_str() : "0"), 1)
        << "the cutover event did not reach the page";
    const json timeline = chartPoints(dom, "timeline");
    EXPECT_GE(timeline.value("cutovers", 0), 1) << timeline.dump();
    const json versions = json::parse(state.count("data-versions") ? state.at("data-versions") : "[]", nullptr, false);
    int shown = 0;
    for (const auto& v : versions) {
        if (v.value("slot", -1) == new_slot && v.value("version", "") == new_version) {
            ++shown;
            EXPECT_TRUE(v.value("active", false)) << versions.dump();
        }
        if (v.value("slot", -1) == old_slot && v.value("version", "") == old_version) {
            ++shown;
            EXPECT_FALSE(v.value("active", true)) << versions.dump();
        }
    }
    EXPECT_EQ(shown, 2) << versions.dump();
    EXPECT_GE(pointsOf(dom, "requests", new_version, new_slot, "req/s"), 4) << chartPoints(dom, "requests").dump();
    EXPECT_GE(pointsOf(dom, "connections", old_version, old_slot, "open"), 5) << chartPoints(dom, "connections").dump();
}

// Without the privilege to load the health programs, the page says so and why, at the top.
TEST_F(DashboardTest, SaysWhyHealthIsUnavailable) {
    REQUIRE_CHROMIUM();
    gateway_.setLauncher({"/usr/bin/setpriv", "--bounding-set=-bpf,-sys_admin", "--"});
    ASSERT_TRUE(startGateway());
    std::string error;
    const json health = this->health(&error);
    ASSERT_TRUE(health.is_object()) << error;
    ASSERT_FALSE(health.value("available", true)) << health.dump();
    const std::string reason = health.value("reason", "");
    ASSERT_FALSE(reason.empty()) << health.dump();

    const std::string dom = loadDashboard(3);
    const auto state = elementAttributes(dom, "state");
    EXPECT_EQ(state.count("data-available") ? state.at("data-available") : "", "false");
    const auto banner = elementAttributes(dom, "banner");
    EXPECT_NE(banner.count("class") ? banner.at("class").find("shown") : std::string::npos, std::string::npos)
        << "the unavailable banner is not shown";
    const std::string text = elementText(dom, "banner");
    EXPECT_NE(text.find("unavailable"), std::string::npos) << text;
    // The reason as the page shows it (HTML-escaped in the DOM, so compare its first words).
    EXPECT_NE(text.find(reason.substr(0, std::min<std::size_t>(reason.size(), 12))), std::string::npos)
        << "banner: " << text << "\nreason: " << reason;
}

}  // namespace
}  // namespace hotgate::test

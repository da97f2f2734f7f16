// The admin endpoint: Prometheus /metrics with a version label on every series, /healthz
// with its version probe, and the /status JSON.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

class AdminTest : public GatewayFixture {
protected:
    // The x-hotgate-version the gateway stamps on responses: "<build>/<hash>".
    std::string servedVersion() {
        auto r = httpGet(port(), "/direct");
        EXPECT_TRUE(r.ok()) << r.error();
        return r.header("x-hotgate-version");
    }
};

TEST_F(AdminTest, MetricsCarryEveryFamilyWithTheVersionLabel) {
    config_.upstream_response = "300ms";
    ASSERT_TRUE(startGateway());
    std::string version = servedVersion();
    ASSERT_FALSE(version.empty());

    HttpClient client(port());
    constexpr int kProxied = 5;
    for (int i = 0; i < kProxied; ++i) ASSERT_TRUE(client.get("/m/" + std::to_string(i)).ok());
    ASSERT_TRUE(httpGet(port(), "/down/x").ok());         // connect error
    ASSERT_TRUE(httpGet(port(), "/slow?ms=3000").ok());   // response timeout
    rawExchange(port(), "BROKEN\r\n\r\n");                // bad_request

    EXPECT_TRUE(metricReaches("hotgate_http_requests_total",
                              {{"listener", "public"}, {"route", "upstream"}, {"status_class", "2xx"}}, kProxied));
    std::string error;
    auto samples = metrics(&error);
    ASSERT_TRUE(error.empty()) << error;
    EXPECT_GE(sumSamples(samples, "hotgate_http_request_duration_seconds_count",
                         {{"listener", "public"}, {"route", "upstream"}}),
              kProxied);
    EXPECT_FALSE(findSamples(samples, "hotgate_http_request_duration_seconds_bucket", {{"le", "+Inf"}}).empty());
    EXPECT_FALSE(findSamples(samples, "hotgate_http_request_duration_seconds_sum").empty());
    EXPECT_FALSE(findSamples(samples, "hotgate_active_connections", {{"listener", "public"}}).empty());
    EXPECT_GE(sumSamples(samples, "hotgate_active_connections", {{"listener", "public"}}), 1)
        << "the client's keep-alive connection is open";
    EXPECT_GE(sumSamples(samples, "hotgate_upstream_connect_errors_total", {{"cluster", "dead"}}), 1);
    EXPECT_GE(sumSamples(samples, "hotgate_upstream_timeouts_total", {{"cluster", "backend"}, {"phase", "response"}}),
              1);
    EXPECT_GE(sumSamples(samples, "hotgate_rejected_requests_total", {{"listener", "public"}, {"reason", "bad_request"}}),
              1);

    int hotgate_series = 0;
    for (const auto& s : samples) {
        if (s.name.rfind("hotgate_", 0) != 0) continue;
        ++hotgate_series;
        auto it = s.labels.find("version");
        ASSERT_NE(it, s.labels.end()) << s.name << " has no version label";
        EXPECT_EQ(it->second, version) << s.name;
    }
    EXPECT_GT(hotgate_series, 5);
}

TEST_F(AdminTest, HealthzAnswersOk) {
    ASSERT_TRUE(startGateway());
    auto r = httpGet(adminPort(), "/healthz");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 200u);
    EXPECT_EQ(trimmed(r.response.body()), "ok");
}

TEST_F(AdminTest, HealthzVersionProbeMatchesBuildHashOrBoth) {
    ASSERT_TRUE(startGateway());
    std::string version = servedVersion();
    auto slash = version.find('/');
    ASSERT_NE(slash, std::string::npos) << version;
    std::string build = version.substr(0, slash);
    std::string hash = version.substr(slash + 1);
    for (const auto& v : {build, hash, version}) {
        auto r = httpGet(adminPort(), "/healthz?version=" + v);
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_EQ(r.status(), 200u) << "version=" << v;
    }
    for (const std::string& v : std::vector<std::string>{"0.0.0-other", "deadbeef", build + "/other", "x" + hash}) {
        auto r = httpGet(adminPort(), "/healthz?version=" + v);
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_EQ(r.status(), 404u) << "version=" << v;
    }
}

TEST_F(AdminTest, StatusReportsVersionPidListenersAndConnections) {
    config_.workers = 2;
    ASSERT_TRUE(startGateway());
    std::string version = servedVersion();
    HttpClient held(port());
    ASSERT_TRUE(held.get("/hold").ok());

    auto r = httpGet(adminPort(), "/status");
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r.status(), 200u);
    auto status = nlohmann::json::parse(r.response.body(), nullptr, false);
    ASSERT_FALSE(status.is_discarded()) << "not JSON: " << r.response.body();

    EXPECT_EQ(status.value("version", ""), version);
    EXPECT_EQ(status.value("build_version", "") + "/" + status.value("config_hash", ""), version);
    EXPECT_FALSE(status.value("config_hash", "").empty());
    ASSERT_TRUE(status.contains("pid") && status["pid"].is_number_integer()) << status.dump();
    EXPECT_EQ(status["pid"].get<long>(), static_cast<long>(gateway_.pid()));
    ASSERT_TRUE(status.contains("uptime_seconds") && status["uptime_seconds"].is_number()) << status.dump();
    EXPECT_GE(status["uptime_seconds"].get<double>(), 0);
    EXPECT_LT(status["uptime_seconds"].get<double>(), 600);
    std::string mode = status.value("mode", "");
    EXPECT_TRUE(mode == "bpf" || mode == "takeover") << "mode " << mode;
    EXPECT_EQ(status.value("workers", 0), 2);
    ASSERT_TRUE(status.contains("listeners") && status["listeners"].is_array()) << status.dump();
    ASSERT_EQ(status["listeners"].size(), 1u);
    const auto& listener = status["listeners"][0];
    EXPECT_EQ(listener.value("name", ""), "public");
    EXPECT_EQ(listener.value("address", ""), "127.0.0.1:" + std::to_string(port()));
    ASSERT_TRUE(listener.contains("sockets")) << listener.dump();
    // One SO_REUSEPORT socket per worker, reported as a count or as a list.
    const auto& sockets = listener["sockets"];
    if (sockets.is_array())
        EXPECT_EQ(sockets.size(), 2u) << listener.dump();
    else
        EXPECT_EQ(sockets.get<int>(), 2) << listener.dump();
    ASSERT_TRUE(status.contains("active_connections") && status["active_connections"].is_number()) << status.dump();
    EXPECT_GE(status["active_connections"].get<int>(), 1);
}

TEST_F(AdminTest, StatusConfigHashMatchesCheckConfig) {
    ASSERT_TRUE(startGateway());
    auto check = runCommand({hotgateBinary(), "--check-config", gateway_.configFile().string()}, gateway_.dir());
    ASSERT_EQ(check.exit_code, 0) << check.err;
    auto r = httpGet(adminPort(), "/status");
    ASSERT_TRUE(r.ok()) << r.error();
    auto status = nlohmann::json::parse(r.response.body(), nullptr, false);
    ASSERT_FALSE(status.is_discarded()) << r.response.body();
    std::string hash = status.value("config_hash", "");
    ASSERT_FALSE(hash.empty());
    EXPECT_NE(check.out.find("(hash " + hash + ")"), std::string::npos) << check.out;
}

// Where BPF cannot be used, hotgate says why and serves in takeover mode; it never pretends.
// Root with CAP_BPF and CAP_SYS_ADMIN taken out of the bounding set cannot load the programs.
TEST_F(AdminTest, WithoutBpfPrivilegeStatusSaysTakeoverAndWhy) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root, to drop CAP_BPF from a root process";
    gateway_.setLauncher({"/usr/bin/setpriv", "--bounding-set=-bpf,-sys_admin", "--"});
    ASSERT_TRUE(startGateway());
    auto r = httpGet(adminPort(), "/status");
    ASSERT_TRUE(r.ok()) << r.error();
    auto status = nlohmann::json::parse(r.response.body(), nullptr, false);
    ASSERT_FALSE(status.is_discarded()) << r.response.body();
    EXPECT_EQ(status.value("mode", ""), "takeover");
    EXPECT_NE(status.value("mode_reason", "").find("CAP_BPF"), std::string::npos) << status.dump(2);
    EXPECT_NE(gateway_.stderrText().find("running in listener-fd-takeover mode"), std::string::npos);
    EXPECT_EQ(httpGet(port(), "/direct").status(), 200);
}

}  // namespace
}  // namespace hotgate::test

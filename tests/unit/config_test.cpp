// Config loading: the shipped default, every validation error with its line, and the hash.
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "load_problems.h"

namespace hotgate {
namespace {

constexpr const char* kMinimal = R"(workers: 2
admin: { address: 127.0.0.1:9901 }
listeners:
  - name: public
    address: 127.0.0.1:8080
routes:
  - name: api
    match: { path_prefix: /api/ }
    cluster: backend
  - name: hello
    match: { path_prefix: / }
    direct_response: { status: 200, body: "hi" }
clusters:
  - name: backend
    endpoints: [127.0.0.1:9000, "[::1]:9001"]
)";

// Loads `text` and returns the formatted problems ("" when it loaded).
TEST(ConfigLoader, LoadsTheShippedDefaultConfig) {
    auto config = loadConfigFile(std::string(HOTGATE_SOURCE_DIR) + "/configs/default.yaml");
    ASSERT_TRUE(config) << formatProblems(config.error());
    ASSERT_EQ((*config)->listeners.size(), 1u);
    EXPECT_EQ((*config)->listeners[0].address.toString(), "127.0.0.1:8080");
    EXPECT_EQ((*config)->admin.address.toString(), "127.0.0.1:9901");
    ASSERT_FALSE((*config)->routes.empty());
    EXPECT_TRUE((*config)->routes[0].direct_response.has_value());
    EXPECT_EQ((*config)->hash.size(), 12u);
}

TEST(ConfigLoader, ParsesEverySection) {
    auto config = loadConfigText(kMinimal, "test.yaml");
    ASSERT_TRUE(config) << formatProblems(config.error());
    const Config& c = **config;
    EXPECT_EQ(c.workers, 2u);
    ASSERT_EQ(c.routes.size(), 2u);
    EXPECT_EQ(c.routes[0].cluster, "backend");
    EXPECT_EQ(c.routes[1].direct_response->body, "hi");
    ASSERT_EQ(c.clusters.size(), 1u);
    ASSERT_EQ(c.clusters[0].endpoints.size(), 2u);
    EXPECT_EQ(c.clusters[0].endpoints[1].address.toString(), "[::1]:9001");
    EXPECT_EQ(c.limits.max_header_bytes, 16u * 1024);  // defaults filled in
    EXPECT_TRUE(c.dataplane.steering);
    EXPECT_TRUE(c.dataplane.xdp_interfaces.empty());  // XDP only where the operator asks for it
    EXPECT_EQ(c.timeouts.upstream_connect.count(), 2000);
}

TEST(ConfigLoader, ReadsTheHealthSection) {
    auto defaults = loadConfigText(kMinimal, "test.yaml");
    ASSERT_TRUE(defaults) << formatProblems(defaults.error());
    EXPECT_TRUE((*defaults)->health.enabled);
    EXPECT_EQ((*defaults)->health.spike_threshold.count(), 200000);
    EXPECT_EQ((*defaults)->health.spike_p99_factor, 4.0);
    EXPECT_EQ((*defaults)->health.spike_floor.count(), 5000);
    EXPECT_EQ((*defaults)->health.window.count(), 60000);

    auto config = loadConfigText(std::string(kMinimal) + R"(health:
  enabled: false
  spike_threshold: 50ms
  spike_p99_factor: 2.5
  spike_floor: 1ms
  window: 10s
)", "test.yaml");
    ASSERT_TRUE(config) << formatProblems(config.error());
    const HealthConfig& h = (*config)->health;
    EXPECT_FALSE(h.enabled);
    EXPECT_EQ(h.spike_threshold.count(), 50000);
    EXPECT_EQ(h.spike_p99_factor, 2.5);
    EXPECT_EQ(h.spike_floor.count(), 1000);
    EXPECT_EQ(h.window.count(), 10000);
    EXPECT_NE((*config)->hash, (*defaults)->hash);  // canonicalText covers the section
    EXPECT_NE(canonicalText(**config).find("health.spike_threshold = 50000us"), std::string::npos);

    auto bad = loadConfigText(std::string(kMinimal) + "health: { spike_p99_factor: lots, window: 5 }\n", "test.yaml");
    ASSERT_FALSE(bad);
    const std::string problems = formatProblems(bad.error());
    EXPECT_NE(problems.find("health.spike_p99_factor: must be a number"), std::string::npos) << problems;
    EXPECT_NE(problems.find("health.window: must be a duration"), std::string::npos) << problems;
}

TEST(ConfigLoader, ReadsUnitsOfLimitsAndTimeouts) {
    auto config = loadConfigText(std::string(kMinimal) + R"(limits: { max_header_bytes: 8k, max_body_bytes: 1MB, max_connections: 50 }
timeouts: { header_read: 1500ms, idle: 1m, upstream_connect: 1s, upstream_response: 2.5s, drain: 3s }
)", "test.yaml");
    ASSERT_TRUE(config) << formatProblems(config.error());
    EXPECT_EQ((*config)->limits.max_header_bytes, 8192u);
    EXPECT_EQ((*config)->limits.max_body_bytes, 1024u * 1024);
    EXPECT_EQ((*config)->limits.max_connections, 50u);
    EXPECT_EQ((*config)->timeouts.header_read.count(), 1500);
    EXPECT_EQ((*config)->timeouts.idle.count(), 60'000);
    EXPECT_EQ((*config)->timeouts.upstream_response.count(), 2500);
}

struct BadConfigCase {
    const char* name;
    std::string text;
    const char* expected;  // substring of the formatted problems, which include "test.yaml:LINE:"
};

class BadConfig : public testing::TestWithParam<BadConfigCase> {};

TEST_P(BadConfig, IsRejectedWithFileLineAndReason) {
    const auto problems = problemsOf(GetParam().text);
    EXPECT_NE(problems.find(GetParam().expected), std::string::npos) << "problems were:\n" << problems;
}

INSTANTIATE_TEST_SUITE_P(
    EveryValidationError, BadConfig,
    testing::Values(
        BadConfigCase{"syntax", "listeners: [\n  - {name: a\n", "test.yaml:2: YAML syntax error"},
        BadConfigCase{"unknown_top_key", std::string(kMinimal) + "listners: []\n", "test.yaml:16: listners: unknown key"},
        BadConfigCase{"unknown_nested_key", std::string(kMinimal) + "timeouts: { idel: 5s }\n",
                      "test.yaml:16: timeouts.idel: unknown key"},
        BadConfigCase{"wrong_type_integer", std::string(kMinimal) + "limits: { max_connections: lots }\n",
                      "test.yaml:16: limits.max_connections: must be an integer"},
        BadConfigCase{"duration_without_unit", std::string(kMinimal) + "timeouts: { idle: 30 }\n",
                      "timeouts.idle: must be a duration with a unit"},
        BadConfigCase{"bad_size", std::string(kMinimal) + "limits: { max_body_bytes: huge }\n",
                      "limits.max_body_bytes: must be a size"},
        BadConfigCase{"bad_xdp_interface", std::string(kMinimal) + "dataplane: { xdp_interfaces: [\"eth0 eth1\"] }\n",
                      "test.yaml:16: dataplane.xdp_interfaces[0]: 'eth0 eth1' is not an interface name"},
        BadConfigCase{"bad_steering", std::string(kMinimal) + "dataplane: { steering: maybe }\n",
                      "dataplane.steering: must be 'auto' or 'off', got 'maybe'"},
        BadConfigCase{"duplicate_route", R"(listeners: [{name: a, address: 127.0.0.1:1}]
routes:
  - {name: r, match: {path_prefix: /}, direct_response: {status: 200}}
  - {name: r, match: {path_prefix: /}, direct_response: {status: 200}}
)", "test.yaml:4: routes[r]: duplicate route name"},
        BadConfigCase{"duplicate_listener", R"(listeners:
  - {name: a, address: 127.0.0.1:1}
  - {name: a, address: 127.0.0.1:2}
routes: [{name: r, match: {path_prefix: /}, direct_response: {}}]
)", "test.yaml:3: listeners[a]: duplicate listener name"},
        BadConfigCase{"unknown_cluster", R"(listeners: [{name: a, address: 127.0.0.1:1}]
routes:
  - name: r
    match: {path_prefix: /}
    cluster: nowhere
)", "test.yaml:5: routes[r].cluster: unknown cluster 'nowhere'"},
        BadConfigCase{"bad_address", R"(listeners: [{name: a, address: "localhost:80"}]
routes: [{name: r, match: {path_prefix: /}, direct_response: {}}]
)", "test.yaml:1: listeners[a].address: bad address 'localhost:80'"},
        BadConfigCase{"bad_port", R"(listeners: [{name: a, address: "127.0.0.1:70000"}]
routes: [{name: r, match: {path_prefix: /}, direct_response: {}}]
)", "port must be 1-65535"},
        BadConfigCase{"route_without_target", R"(listeners: [{name: a, address: 127.0.0.1:1}]
routes:
  - {name: r, match: {path_prefix: /}}
)", "test.yaml:3: routes[r]: needs exactly one of 'cluster' or 'direct_response'"},
        BadConfigCase{"no_listeners", "routes: [{name: r, match: {path_prefix: /}, direct_response: {}}]\n",
                      "listeners: at least one listener is required"},
        BadConfigCase{"path_without_slash", R"(listeners: [{name: a, address: 127.0.0.1:1}]
routes: [{name: r, match: {path_prefix: api}, direct_response: {}}]
)", "routes[r].match.path_prefix: must start with '/'"},
        BadConfigCase{"status_out_of_range", R"(listeners: [{name: a, address: 127.0.0.1:1}]
routes: [{name: r, match: {path: /}, direct_response: {status: 99}}]
)", "direct_response.status: must be between 200 and 599"}),
    [](const testing::TestParamInfo<BadConfigCase>& info) { return std::string(info.param.name); });

TEST(ConfigLoader, ReportsEveryProblemNotJustTheFirst) {
    auto result = loadConfigText(R"(listeners: [{name: a, address: nope}]
routes:
  - {name: r, match: {path_prefix: /}, cluster: missing}
timeouts: { idle: forever }
)", "test.yaml");
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().size(), 3u) << formatProblems(result.error());
}

TEST(ConfigLoader, MissingFileNamesTheFile) {
    auto result = loadConfigFile("/nonexistent/hotgate.yaml");
    ASSERT_FALSE(result);
    EXPECT_NE(formatProblems(result.error()).find("/nonexistent/hotgate.yaml: cannot read file"), std::string::npos);
}

TEST(ConfigHash, SameMeaningSameHashDifferentMeaningDifferentHash) {
    auto base = loadConfigText(kMinimal, "a.yaml");
    // Same meaning: defaults spelled out, units restated, comments and key order changed.
    auto restated = loadConfigText(std::string(R"(# a comment
clusters:
  - endpoints: [127.0.0.1:9000, "[::1]:9001"]
    name: backend
    max_idle_per_endpoint: 64
routes:
  - name: api
    cluster: backend
    match: { path_prefix: /api/ }
  - name: hello
    match: { path_prefix: / }
    direct_response: { body: "hi", status: 200 }
listeners:
  - address: 127.0.0.1:8080
    name: public
admin: { address: 127.0.0.1:9901 }
workers: 2
timeouts: { upstream_connect: 2000ms, drain: 15s }
limits: { max_header_bytes: 16KB }
)"), "b.yaml");
    auto changed = loadConfigText(std::string(kMinimal) + "timeouts: { idle: 61s }\n", "c.yaml");
    ASSERT_TRUE(base && restated && changed);
    EXPECT_EQ((*base)->hash, (*restated)->hash);
    EXPECT_NE((*base)->hash, (*changed)->hash);
}

}  // namespace
}  // namespace hotgate

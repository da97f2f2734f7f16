// Loading the protection keys: a route's rate_limit and critical flag, the top-level
// circuit_breaker and a route's override of it, their defaults (a config without them keeps
// its hash), and each refusal with its file line and config path.
#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.h"
#include "load_problems.h"

namespace hotgate {
namespace {

using namespace std::chrono_literals;

// A config whose one route, `pay`, has `route_keys` (YAML lines indented by four) from line 6,
// followed by `top` (top-level sections).
std::string withRoute(const std::string& route_keys, const std::string& top = "") {
    return std::string(R"(listeners: [{name: public, address: 127.0.0.1:8080}]
clusters: [{name: backend, endpoints: [127.0.0.1:9000]}]
routes:
  - name: pay
    match: {path_prefix: /pay/}
    cluster: backend
)") + route_keys + top;
}

ConfigSnapshot load(const std::string& text) {
    auto config = loadConfigText(text, "test.yaml");
    if (!config) {
        ADD_FAILURE() << formatProblems(config.error());
        return nullptr;
    }
    return *config;
}

TEST(ProtectionConfig, ARouteWithoutProtectionKeysIsCriticalUnlimitedAndOff) {
    const auto config = load(withRoute(""));
    ASSERT_TRUE(config);
    const auto& route = config->routes[0];
    EXPECT_TRUE(route.critical);
    EXPECT_FALSE(route.rate_limit);
    const auto breaker = route.circuit_breaker.over(config->circuit_breaker);
    EXPECT_FALSE(breaker.enabled);
    EXPECT_EQ(breaker.window, 60s);
    EXPECT_EQ(breaker.sample_interval, 10s);
    EXPECT_DOUBLE_EQ(breaker.qps_ratio, 1.8);
    EXPECT_EQ(breaker.p95_delta, 200ms);
    EXPECT_EQ(breaker.shed_percent, 30u);
    EXPECT_EQ(breaker.min_requests, 20u);
    EXPECT_EQ(config->limits.rate_limit_buckets, 65536u);
    EXPECT_EQ(canonicalText(*config).find("critical"), std::string::npos) << "defaults stay out of the hash";
    EXPECT_EQ(canonicalText(*config).find("circuit_breaker"), std::string::npos);
}

TEST(ProtectionConfig, RateLimitKeysAreRead) {
    const auto config = load(withRoute(
        "    critical: false\n    rate_limit: {requests_per_second: 2.5, burst: 50, key: \"header:X-Client\"}\n"));
    ASSERT_TRUE(config);
    const auto& route = config->routes[0];
    EXPECT_FALSE(route.critical);
    ASSERT_TRUE(route.rate_limit);
    EXPECT_DOUBLE_EQ(route.rate_limit->requests_per_second, 2.5);
    EXPECT_EQ(route.rate_limit->burst, 50u);
    EXPECT_EQ(route.rate_limit->key.kind, RateLimitKey::Kind::Header);
    EXPECT_EQ(route.rate_limit->key.name, "x-client");
    const auto text = canonicalText(*config);
    EXPECT_NE(text.find("routes[pay].rate_limit.key = header:x-client"), std::string::npos) << text;
    const auto by_default = load(withRoute("    rate_limit: {requests_per_second: 1, burst: 1}\n"));
    ASSERT_TRUE(by_default);
    EXPECT_EQ(by_default->routes[0].rate_limit->key.kind, RateLimitKey::Kind::ClientIp);
}

TEST(ProtectionConfig, ARouteOverridesOnlyTheBreakerKeysItGives) {
    const auto config = load(withRoute("    circuit_breaker: {enabled: true, shed_percent: 50}\n",
                                       "circuit_breaker: {window: 2s, sample_interval: 500ms, qps_ratio: 3}\n"));
    ASSERT_TRUE(config);
    const auto breaker = config->routes[0].circuit_breaker.over(config->circuit_breaker);
    EXPECT_TRUE(breaker.enabled);
    EXPECT_EQ(breaker.shed_percent, 50u);
    EXPECT_EQ(breaker.window, 2s);
    EXPECT_EQ(breaker.sample_interval, 500ms);
    EXPECT_DOUBLE_EQ(breaker.qps_ratio, 3);
    EXPECT_FALSE(config->circuit_breaker.enabled);
}

struct BadCase {
    const char* name;
    std::string text;
    std::string expected;
};

class BadProtection : public testing::TestWithParam<BadCase> {};

TEST_P(BadProtection, IsRefusedWithTheLineAndPath) {
    const std::string problems = problemsOf(GetParam().text);
    EXPECT_NE(problems.find(GetParam().expected), std::string::npos) << "problems were:\n" << problems;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, BadProtection,
    testing::Values(
        BadCase{"rate_without_burst", withRoute("    rate_limit: {requests_per_second: 5}\n"),
                "test.yaml:7: routes[pay].rate_limit: missing required key 'burst'"},
        BadCase{"zero_rate", withRoute("    rate_limit: {requests_per_second: 0, burst: 5}\n"),
                "test.yaml:7: routes[pay].rate_limit.requests_per_second: must be between 0.001 and"},
        BadCase{"huge_burst", withRoute("    rate_limit: {requests_per_second: 5, burst: 70000}\n"),
                "routes[pay].rate_limit.burst: must be"},
        BadCase{"bad_key", withRoute("    rate_limit: {requests_per_second: 5, burst: 5, key: cookie:x}\n"),
                "routes[pay].rate_limit.key: must be client_ip, header:NAME or route, got 'cookie:x'"},
        BadCase{"blank_header", withRoute("    rate_limit: {requests_per_second: 5, burst: 5, key: \"header:a b\"}\n"),
                "routes[pay].rate_limit.key: 'header:a b': header: needs a field name"},
        BadCase{"unknown_key", withRoute("    rate_limit: {requests_per_second: 5, burst: 5, per: ip}\n"),
                "test.yaml:7: routes[pay].rate_limit.per: unknown key (expected one of: requests_per_second, burst, key)"},
        BadCase{"critical_not_boolean", withRoute("    critical: maybe\n"), "test.yaml:7: routes[pay].critical"},
        BadCase{"short_interval", withRoute("", "circuit_breaker: {sample_interval: 50ms}\n"),
                "circuit_breaker.sample_interval: must be at least 100ms, got 50ms"},
        BadCase{"window_of_one_sample", withRoute("", "circuit_breaker: {window: 10s, sample_interval: 10s}\n"),
                "circuit_breaker.window: must hold 2 to 64 sample_intervals"},
        BadCase{"route_window_too_long", withRoute("    circuit_breaker: {window: 1h}\n"),
                "test.yaml:7: routes[pay].circuit_breaker.window: must hold 2 to 64 sample_intervals, got 3600000ms"},
        BadCase{"route_shed_over_100", withRoute("    circuit_breaker: {shed_percent: 101}\n"),
                "routes[pay].circuit_breaker.shed_percent: must be"},
        BadCase{"ratio_below_one", withRoute("", "circuit_breaker: {qps_ratio: 0.5}\n"),
                "circuit_breaker.qps_ratio: must be between 1 and 1000, got 0.5"}),
    [](const testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace hotgate

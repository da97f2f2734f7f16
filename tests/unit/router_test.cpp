// Route matching: host (exact, wildcard, any), exact path, prefix, first match wins.
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "proxy/router.h"

namespace hotgate {
namespace {

Router makeRouter() {
    auto config = loadConfigText(R"(listeners: [{name: a, address: 127.0.0.1:1}]
routes:
  - {name: exact_health, match: {path: /health}, direct_response: {}}
  - {name: api_host, match: {host: api.example.com, path_prefix: /}, direct_response: {}}
  - {name: wildcard, match: {host: "*.example.com", path_prefix: /v1/}, direct_response: {}}
  - {name: static, match: {path_prefix: /static/}, direct_response: {}}
  - {name: any_host, match: {host: "*", path_prefix: /}, direct_response: {}}
)", "router.yaml");
    EXPECT_TRUE(config) << formatProblems(config.error());
    return Router(*config);
}

std::string routeFor(const Router& router, std::string_view host, std::string_view target) {
    auto index = router.match(host, target);
    return index ? router.config().routes[*index].name : "none";
}

TEST(Router, ExactPathBeatsLaterPrefixesAndIgnoresQuery) {
    const auto router = makeRouter();
    EXPECT_EQ(routeFor(router, "api.example.com", "/health?verbose=1"), "exact_health");
    EXPECT_EQ(routeFor(router, "x", "/healthz"), "any_host");  // exact means exact
}

TEST(Router, HostMatchIgnoresCaseAndPort) {
    const auto router = makeRouter();
    EXPECT_EQ(routeFor(router, "API.Example.com:8080", "/anything"), "api_host");
}

TEST(Router, WildcardHostMatchesSubdomainsOnly) {
    const auto router = makeRouter();
    EXPECT_EQ(routeFor(router, "eu.example.com", "/v1/users"), "wildcard");
    EXPECT_EQ(routeFor(router, "example.com", "/v1/users"), "any_host");
    EXPECT_EQ(routeFor(router, "eu.example.com", "/v2/users"), "any_host");
}

TEST(Router, PrefixMatchesAndFirstMatchWins) {
    const auto router = makeRouter();
    EXPECT_EQ(routeFor(router, "cdn.test", "/static/app.js"), "static");
    EXPECT_EQ(routeFor(router, "", "/"), "any_host");
}

TEST(Router, NoMatchWhenNothingFits) {
    auto config = loadConfigText(R"(listeners: [{name: a, address: 127.0.0.1:1}]
routes: [{name: only, match: {host: a.test, path_prefix: /}, direct_response: {}}]
)", "router.yaml");
    ASSERT_TRUE(config);
    Router router(*config);
    EXPECT_FALSE(router.match("b.test", "/"));
}

TEST(NormalizeHost, StripsPortKeepsIpv6Brackets) {
    EXPECT_EQ(normalizeHost("Example.COM:80"), "example.com");
    EXPECT_EQ(normalizeHost("[::1]:8080"), "[::1]");
    EXPECT_EQ(normalizeHost("plain"), "plain");
}

}  // namespace
}  // namespace hotgate

// Config normalization and semantic diff: files that mean the same thing hash the same and
// diff to nothing; real changes give exactly the expected lines, each classified (in place or
// new version); bad files of every kind are refused with their file:line.
#include "config/config_diff.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/config_loader.h"
#include "config_samples.h"
#include "control/config_engine.h"
#include "proxy/route_stats.h"

namespace hotgate {
namespace {

constexpr const char* kBase = test::kGatewayConfig;

// The same meaning: sets reordered, units and quoting changed, defaults restated, comments
// and whitespace added.
constexpr const char* kRestated = R"(# the same gateway, written differently
workers: "2"
admin:
  address: "127.0.0.1:9901"
listeners:
  - name: internal
    address: 127.0.0.1:8081
  - { name: public, address: 127.0.0.1:8080 }   # flow style
limits:
  max_header_bytes: 16384
  max_body_bytes: 10MB            # the default, restated
  max_connections: "10000"        # the default, as a string
timeouts:
  upstream_connect: 1500ms
  idle: 1m                        # the default, in minutes
routes:
  - name: api
    match: { path_prefix: "/api/" }
    cluster: a
  - name: pay
    match: { host: PAY.example.com, path_prefix: / }
    cluster: pay
  - name: hello
    match:
      path_prefix: /
    direct_response:
      status: "200"
      body: "hi\n"
clusters:
  - name: pay
    endpoints: [10.0.0.6:80, 10.0.0.5:80]
    max_idle_per_endpoint: "8"
  - name: b
    endpoints: [127.0.0.1:9100]
    max_idle_per_endpoint: 64     # the default
  - name: a
    endpoints: ["127.0.0.1:9001", 127.0.0.1:9000]
config_engine:
  verification_window: 10s        # the default
  max_5xx_ratio_increase: "0.05"  # the default, as a string
health:
  enabled: true
  spike_threshold: 200ms
)";

ConfigSnapshot load(const std::string& text, const std::string& name = "test.yaml") {
    auto config = loadConfigText(text, name);
    EXPECT_TRUE(config) << (config ? "" : formatProblems(config.error()));
    return config ? *config : nullptr;
}

std::vector<std::string> diffLines(const std::string& before, const std::string& after) {
    std::vector<std::string> lines;
    for (const auto& change : diffConfigs(*load(before), *load(after)).changes) lines.push_back(change.format());
    return lines;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    return text;
}

std::string problemsOf(const std::string& text) {
    auto result = loadConfigText(text, "bad.yaml");
    return result ? std::string() : formatProblems(result.error());
}

TEST(ConfigNormalization, FilesThatMeanTheSameHashTheSameAndDiffToNothing) {
    const auto base = load(kBase);
    const auto restated = load(kRestated);
    ASSERT_TRUE(base && restated);
    EXPECT_EQ(canonicalText(*base), canonicalText(*restated));
    EXPECT_EQ(base->hash, restated->hash);
    EXPECT_TRUE(diffConfigs(*base, *restated).empty());
}

TEST(ConfigNormalization, UnitsAndDefaultsAreResolved) {
    const auto config = load(kRestated);
    ASSERT_TRUE(config);
    EXPECT_EQ(config->timeouts.upstream_connect.count(), 1500);
    EXPECT_EQ(config->timeouts.idle.count(), 60'000);
    EXPECT_EQ(config->limits.max_header_bytes, 16384u);
    EXPECT_EQ(config->limits.max_body_bytes, 10u * 1024 * 1024);
    EXPECT_EQ(config->config_engine.verification_window.count(), 10'000);
    EXPECT_DOUBLE_EQ(config->config_engine.max_5xx_ratio_increase, 0.05);
    EXPECT_EQ(config->health.spike_threshold.count(), 200'000);
    EXPECT_EQ(config->health.spike_floor.count(), 5'000);
    // Endpoints are a set: sorted, whatever the file's order.
    ASSERT_EQ(config->findCluster("a")->endpoints.size(), 2u);
    EXPECT_EQ(config->findCluster("a")->endpoints[0].address.toString(), "127.0.0.1:9000");
}

TEST(ConfigDiff, RouteClusterChangeIsOneInPlaceLine) {
    const auto lines = diffLines(kBase, replaced(kBase, "cluster: a\n", "cluster: b\n"));
    EXPECT_EQ(lines, std::vector<std::string>{"routes[api].cluster: a -> b"});
    const auto diff = diffConfigs(*load(kBase), *load(replaced(kBase, "cluster: a\n", "cluster: b\n")));
    EXPECT_FALSE(diff.needsNewVersion());
    EXPECT_EQ(diff.affected_routes, std::vector<std::string>{"api"});
}

TEST(ConfigDiff, EndpointsAddedAndRemovedAreSetChanges) {
    const auto after =
        replaced(kBase, "endpoints: [10.0.0.5:80, 10.0.0.6:80]", "endpoints: [10.0.0.7:80, 10.0.0.6:80]");
    EXPECT_EQ(diffLines(kBase, after), (std::vector<std::string>{"clusters[pay].endpoints -= 10.0.0.5:80",
                                                                 "clusters[pay].endpoints += 10.0.0.7:80"}));
    const auto diff = diffConfigs(*load(kBase), *load(after));
    EXPECT_FALSE(diff.needsNewVersion());
    EXPECT_EQ(diff.affected_routes, std::vector<std::string>{"pay"});  // the route to the changed cluster
}

TEST(ConfigDiff, RoutesAddedRemovedLimitsAndTimeouts) {
    std::string after =
        replaced(kBase, "  - name: pay\n    match: { host: pay.example.com, path_prefix: / }\n    cluster: pay\n",
                 "  - name: beta\n    match: { path: /beta }\n    cluster: b\n");
    after = replaced(after, "max_header_bytes: 16k", "max_header_bytes: 32k");
    after = replaced(after, "upstream_connect: 1.5s", "upstream_connect: 2s");
    EXPECT_EQ(diffLines(kBase, after), (std::vector<std::string>{
                                           "limits.max_header_bytes: 16384 -> 32768",
                                           "routes[beta] added",
                                           "routes[pay] removed",
                                           "timeouts.upstream_connect: 1500ms -> 2000ms",
                                       }));
    EXPECT_FALSE(diffConfigs(*load(kBase), *load(after)).needsNewVersion());
}

TEST(ConfigDiff, SocketAndWorkerChangesNeedANewVersion) {
    auto after = replaced(kBase, "address: 127.0.0.1:8081", "address: 127.0.0.1:8082");
    after = replaced(after, "workers: 2", "workers: 3");
    const auto diff = diffConfigs(*load(kBase), *load(after));
    ASSERT_EQ(diff.changes.size(), 2u);
    EXPECT_EQ(diff.changes[0].format(), "listeners[internal].address: 127.0.0.1:8081 -> 127.0.0.1:8082");
    EXPECT_EQ(diff.changes[1].format(), "workers: 2 -> 3");
    EXPECT_TRUE(diff.changes[0].needs_new_version);
    EXPECT_TRUE(diff.changes[1].needs_new_version);
    EXPECT_TRUE(diff.needsNewVersion());
    EXPECT_EQ(diff.changes[0].toJson()["applies"], "new_version");
}

TEST(ConfigDiff, TrustedProxiesAndClientTimeoutsApplyInPlace) {
    const auto trusted = replaced(kBase, "    address: 127.0.0.1:8080\n",
                                  "    address: 127.0.0.1:8080\n    trusted_proxies: [10.0.0.0/8, \"::1\", 10.0.0.0/8]\n");
    const auto config = load(trusted);
    const auto& ranges = config->listeners[config->listeners[0].name == "public" ? 0 : 1].trusted_proxies;
    ASSERT_EQ(ranges.size(), 2u);  // a set: sorted, duplicates gone
    EXPECT_EQ(ranges[0].toString(), "10.0.0.0/8");
    EXPECT_EQ(ranges[1].toString(), "::1/128");
    auto after = replaced(trusted, "\"::1\", ", "");
    after = replaced(after, "upstream_connect: 1.5s", "upstream_connect: 1.5s\n  body_read: 5s\n  send: 20s");
    const auto diff = diffConfigs(*config, *load(after));
    EXPECT_EQ(diffLines(trusted, after), (std::vector<std::string>{
                                             "listeners[public].trusted_proxies -= ::1/128",
                                             "timeouts.body_read: 60000ms -> 5000ms",
                                             "timeouts.send: 60000ms -> 20000ms",
                                         }));
    EXPECT_FALSE(diff.needsNewVersion());
}

TEST(ConfigNormalization, KeysAtTheirDefaultLeaveTheHashAsBeforeTheyExisted) {
    // body_read and send came after the first release: restating their defaults changes nothing.
    const auto restated = replaced(kBase, "upstream_connect: 1.5s", "upstream_connect: 1.5s\n  body_read: 60s\n  send: 1m");
    EXPECT_EQ(load(restated)->hash, load(kBase)->hash);
    EXPECT_EQ(canonicalText(*load(kBase)).find("body_read"), std::string::npos);
}

TEST(ConfigDiff, CertificatesApplyInPlace) {
    const auto with_tls = replaced(kBase, "    address: 127.0.0.1:8080\n",
                                   "    address: 127.0.0.1:8080\n    tls:\n      certificates:\n"
                                   "        - certificate_file: /etc/a.pem\n          key_file: /etc/a.key\n"
                                   "          sni: [b.example.com, A.example.com]\n");
    const auto renewed = replaced(with_tls, "/etc/a.pem", "/etc/a2.pem");
    const auto diff = diffConfigs(*load(with_tls), *load(renewed));
    ASSERT_EQ(diff.changes.size(), 1u);
    EXPECT_EQ(diff.changes[0].format(), R"(listeners[public].tls.certificates[0].certificate_file: "/etc/a.pem" -> "/etc/a2.pem")");
    EXPECT_FALSE(diff.changes[0].needs_new_version);
    // SNI names are a set, case-insensitive.
    const auto reordered = replaced(with_tls, "[b.example.com, A.example.com]", "[a.example.com, b.example.com]");
    EXPECT_EQ(load(with_tls)->hash, load(reordered)->hash);
}

TEST(ConfigDiff, UpstreamTlsIsPartOfTheClusterAndAppliesInPlace) {
    const auto plain = load(kBase);
    const auto with_tls = load(replaced(kBase, "[127.0.0.1:9100]",
                                        "[127.0.0.1:9100]\n    tls: { ca_file: /etc/ca.pem, sni: API.internal }"));
    ASSERT_TRUE(plain && with_tls);
    const ClusterConfig* b = with_tls->findCluster("b");
    ASSERT_TRUE(b && b->tls);
    EXPECT_EQ(b->tls->sni, "api.internal");
    EXPECT_EQ(b->tls->ca_file, "/etc/ca.pem");
    EXPECT_TRUE(b->tls->verify);
    const auto diff = diffConfigs(*plain, *with_tls);
    ASSERT_FALSE(diff.empty());
    EXPECT_FALSE(diff.needsNewVersion());
    EXPECT_NE(problemsOf(replaced(kBase, "[127.0.0.1:9100]", "[127.0.0.1:9100]\n    tls: { verify: maybe }"))
                  .find("tls.verify"),
              std::string::npos);
}

TEST(ConfigNormalization, BodiesOfAnyBytesStayDistinct) {
    // Found by the fuzzer: a body that is not UTF-8 must neither crash the canonical form nor
    // collide with another body.
    const auto a = load(replaced(kBase, R"(body: "hi\n")", "body: \"h\xad\""));
    const auto b = load(replaced(kBase, R"(body: "hi\n")", "body: \"h\xae\""));
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->hash, b->hash);
    const auto diff = diffConfigs(*a, *b);
    ASSERT_EQ(diff.changes.size(), 1u);
    EXPECT_EQ(diff.changes[0].format(), R"(routes[hello].direct_response.body: "h\xad" -> "h\xae")");
}

TEST(ConfigRejection, EveryKindOfBadConfigIsRefusedWithItsLine) {
    EXPECT_NE(problemsOf("listeners: [ {name: a\n").find("bad.yaml:"), std::string::npos);  // syntax
    EXPECT_NE(problemsOf("listeners: [ {name: a\n").find("YAML syntax error"), std::string::npos);

    const auto type_error = problemsOf(replaced(kBase, "max_header_bytes: 16k", "max_header_bytes: [1, 2]"));
    EXPECT_NE(type_error.find("bad.yaml:9: limits.max_header_bytes: must be a scalar value"), std::string::npos)
        << type_error;

    const auto unknown = problemsOf(replaced(kBase, "cluster: a\n", "cluster: nope\n"));
    EXPECT_NE(unknown.find("bad.yaml:15: routes[api].cluster: unknown cluster 'nope'"), std::string::npos) << unknown;

    const auto duplicate = problemsOf(replaced(kBase, "name: internal", "name: public"));
    EXPECT_NE(duplicate.find("listeners[public]: duplicate listener name"), std::string::npos) << duplicate;

    const auto range = problemsOf(std::string(kBase) + "config_engine: { max_5xx_ratio_increase: 2 }\n");
    EXPECT_NE(range.find("config_engine.max_5xx_ratio_increase: must be between 0 and 1, got 2"), std::string::npos)
        << range;

    const auto dup_endpoint = problemsOf(replaced(kBase, "[127.0.0.1:9100]", "[127.0.0.1:9100, 127.0.0.1:9100]"));
    EXPECT_NE(dup_endpoint.find("duplicate endpoint 127.0.0.1:9100"), std::string::npos) << dup_endpoint;

    // Every problem of a file, not only the first.
    auto many =
        loadConfigText(replaced(replaced(kBase, "cluster: a\n", "cluster: x\n"), "workers: 2", "workers: 0"), "m.yaml");
    ASSERT_FALSE(many);
    EXPECT_EQ(many.error().size(), 2u) << formatProblems(many.error());
}

TEST(ConfigPrecheck, UnreadableCertificateIsAProblemAndALoadableOneIsNot) {
    const auto dir = std::filesystem::temp_directory_path() / ("hotgate-precheck-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto garbage = dir / "garbage.pem";
    std::ofstream(garbage) << "this is not PEM\n";
    const auto config = load(replaced(kBase, "    address: 127.0.0.1:8080\n",
                                      "    address: 127.0.0.1:8080\n    tls:\n      certificates:\n"
                                      "        - { certificate_file: " + garbage.string() + ", key_file: " +
                                          (dir / "missing.key").string() + " }\n"
                                          "        - { certificate_file: " + (dir / "missing.pem").string() +
                                          ", key_file: " + (dir / "missing.key").string() + " }\n"));
    ASSERT_TRUE(config);
    const auto problems = control::precheckConfig(*config);
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_NE(problems[0].find("listeners[public].tls.certificates[0]: certificate file " + garbage.string()),
              std::string::npos)
        << problems[0];
    EXPECT_NE(problems[0].find("no PEM certificate"), std::string::npos) << problems[0];
    EXPECT_NE(problems[1].find("listeners[public].tls.certificates[1]"), std::string::npos) << problems[1];
    EXPECT_NE(problems[1].find("cannot open: No such file or directory"), std::string::npos) << problems[1];
    EXPECT_TRUE(control::precheckConfig(*load(kBase)).empty());
    std::filesystem::remove_all(dir);
}

TEST(RouteStats, P99IsTheUpperBoundOfItsLog2Bucket) {
    RouteStats stats;
    for (int i = 0; i < 99; ++i) stats.record(200, std::chrono::microseconds(100));  // < 128us
    stats.record(503, std::chrono::microseconds(5000));                              // < 8192us
    auto sample = stats.sample();
    EXPECT_EQ(sample.requests, 100u);
    EXPECT_EQ(sample.errors_5xx, 1u);
    EXPECT_DOUBLE_EQ(sample.errorRatio(), 0.01);
    EXPECT_EQ(sample.p99().count(), 128);
    stats.record(200, std::chrono::microseconds(5000));
    EXPECT_EQ(stats.sample().p99().count(), 8192);
    EXPECT_EQ((stats.sample() - sample).requests, 1u);
}

}  // namespace
}  // namespace hotgate

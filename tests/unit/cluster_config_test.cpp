// Loading a cluster's balancing, outlier detection and retry keys: both endpoint forms, the
// defaults of every key a cluster written before them gets, normalization of hash keys and
// retry conditions, and each refusal with its file line and config path.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config_loader.h"

namespace hotgate {
namespace {

using namespace std::chrono_literals;

// A config with one cluster, `backend`, whose keys (YAML lines indented by four spaces) start
// on line 5.
std::string withCluster(const std::string& keys) {
    return std::string(R"(listeners: [{name: public, address: 127.0.0.1:8080}]
routes: [{name: api, match: {path_prefix: /}, cluster: backend}]
clusters:
  - name: backend
)") + keys;
}

// The loaded config, or nullptr (and a failure naming the problems).
ConfigSnapshot load(const std::string& text) {
    auto config = loadConfigText(text, "test.yaml");
    if (!config) {
        ADD_FAILURE() << formatProblems(config.error());
        return nullptr;
    }
    return *config;
}

const ClusterConfig& backendOf(const ConfigSnapshot& config) { return *config->findCluster("backend"); }

// Whether the canonical text of `config` has the line `line`.
bool hasLine(const Config& config, const std::string& line) {
    return ("\n" + canonicalText(config)).find("\n" + line + "\n") != std::string::npos;
}

TEST(ClusterConfig, ShortEndpointFormHasWeightOne) {
    const auto config = load(withCluster("    endpoints: [127.0.0.1:9000, \"[::1]:9001\"]\n"));
    ASSERT_TRUE(config);
    const auto& endpoints = backendOf(config).endpoints;
    ASSERT_EQ(endpoints.size(), 2u);
    EXPECT_EQ(endpoints[0].address.toString(), "127.0.0.1:9000");
    EXPECT_EQ(endpoints[0].weight, 1u);
    EXPECT_EQ(endpoints[1].address.toString(), "[::1]:9001");
    EXPECT_EQ(endpoints[1].weight, 1u);
}

TEST(ClusterConfig, LongEndpointFormCarriesItsWeightAndMixesWithTheShortOne) {
    const auto config = load(withCluster(R"(    endpoints:
      - 10.0.0.2:9000
      - {address: 10.0.0.1:9000, weight: 3}
      - {address: 10.0.0.3:9000}
      - {address: 10.0.0.4:9000, weight: 1000}
)"));
    ASSERT_TRUE(config);
    const std::vector<EndpointConfig> expected{{{"10.0.0.1", 9000}, 3},
                                               {{"10.0.0.2", 9000}, 1},
                                               {{"10.0.0.3", 9000}, 1},
                                               {{"10.0.0.4", 9000}, 1000}};
    EXPECT_EQ(backendOf(config).endpoints, expected);  // a set: sorted by address
    // Weight 1 reads as the address alone, so configs from before weights keep their hash.
    EXPECT_TRUE(hasLine(*config, "clusters[backend].endpoints += 10.0.0.1:9000 weight=3"));
    EXPECT_TRUE(hasLine(*config, "clusters[backend].endpoints += 10.0.0.3:9000"));
}

TEST(ClusterConfig, AnEndpointWithWeightOneHashesLikeItsShortForm) {
    const auto short_form = load(withCluster("    endpoints: [127.0.0.1:9000]\n"));
    const auto long_form = load(withCluster("    endpoints: [{address: 127.0.0.1:9000, weight: 1}]\n"));
    const auto heavier = load(withCluster("    endpoints: [{address: 127.0.0.1:9000, weight: 2}]\n"));
    ASSERT_TRUE(short_form && long_form && heavier);
    EXPECT_EQ(short_form->hash, long_form->hash);
    EXPECT_NE(short_form->hash, heavier->hash);
}

TEST(ClusterConfig, AClusterWithoutTheNewKeysGetsTheirDefaults) {
    const auto config = load(withCluster("    endpoints: [127.0.0.1:9000]\n"));
    ASSERT_TRUE(config);
    const ClusterConfig& cluster = backendOf(config);
    EXPECT_EQ(cluster.lb.policy, LbPolicy::RoundRobin);
    EXPECT_EQ(cluster.lb.hash_key, HashKeySource{});
    EXPECT_EQ(cluster.lb.table_size, 65537u);
    EXPECT_FALSE(cluster.outlier_detection.has_value());
    EXPECT_EQ(cluster.retries.attempts, 2u);
    EXPECT_EQ(cluster.retries.on, (std::vector<RetryOn>{RetryOn::ConnectFailure, RetryOn::Refused}));
    EXPECT_EQ(cluster.retries.budget_percent, 20u);
    EXPECT_EQ(cluster.retries.backoff, 25ms);
    EXPECT_EQ(cluster.retries.per_try_timeout, 0ms);
    EXPECT_EQ(cluster.slow_start, 0ms);
}

TEST(ClusterConfig, AnEmptyOutlierDetectionBlockTurnsItOnWithDefaults) {
    const auto config = load(withCluster("    endpoints: [127.0.0.1:9000]\n    outlier_detection: {}\n"));
    ASSERT_TRUE(config);
    ASSERT_TRUE(backendOf(config).outlier_detection.has_value());
    const OutlierDetectionConfig& outlier = *backendOf(config).outlier_detection;
    EXPECT_EQ(outlier.consecutive_5xx, 5u);
    EXPECT_EQ(outlier.consecutive_gateway_errors, 3u);
    EXPECT_EQ(outlier.interval, 10s);
    EXPECT_EQ(outlier.base_ejection_time, 30s);
    EXPECT_EQ(outlier.max_ejection_percent, 50u);
}

TEST(ClusterConfig, ReadsEveryNewKeyWhenGiven) {
    const auto config = load(withCluster(R"(    endpoints: [127.0.0.1:9000, 127.0.0.1:9001]
    lb: {policy: maglev, hash_key: cookie:SessionID, table_size: 1009}
    outlier_detection:
      consecutive_5xx: 0
      consecutive_gateway_errors: 7
      interval: 2s
      base_ejection_time: 1m
      max_ejection_percent: 100
    retries:
      attempts: 10
      on: [reset-before-response]
      per_try_timeout: 750ms
      budget_percent: 0
      backoff: 1s
    slow_start: 30s
)"));
    ASSERT_TRUE(config);
    const ClusterConfig& cluster = backendOf(config);
    EXPECT_EQ(cluster.lb.policy, LbPolicy::Maglev);
    // Cookie names are case-sensitive (RFC 6265): kept as written.
    EXPECT_EQ(cluster.lb.hash_key, (HashKeySource{HashKeySource::Kind::Cookie, "SessionID"}));
    EXPECT_EQ(cluster.lb.table_size, 1009u);
    ASSERT_TRUE(cluster.outlier_detection.has_value());
    EXPECT_EQ(cluster.outlier_detection->consecutive_5xx, 0u);
    EXPECT_EQ(cluster.outlier_detection->consecutive_gateway_errors, 7u);
    EXPECT_EQ(cluster.outlier_detection->interval, 2s);
    EXPECT_EQ(cluster.outlier_detection->base_ejection_time, 60s);
    EXPECT_EQ(cluster.outlier_detection->max_ejection_percent, 100u);
    EXPECT_EQ(cluster.retries.attempts, 10u);
    EXPECT_EQ(cluster.retries.on, std::vector<RetryOn>{RetryOn::ResetBeforeResponse});
    EXPECT_EQ(cluster.retries.per_try_timeout, 750ms);
    EXPECT_EQ(cluster.retries.budget_percent, 0u);
    EXPECT_EQ(cluster.retries.backoff, 1s);
    EXPECT_EQ(cluster.slow_start, 30s);
}

TEST(ClusterConfig, OffTurnsPerTryTimeoutAndSlowStartOff) {
    const auto config = load(withCluster(R"(    endpoints: [127.0.0.1:9000]
    retries: {per_try_timeout: "off"}
    slow_start: "off"
)"));
    const auto without = load(withCluster("    endpoints: [127.0.0.1:9000]\n"));
    ASSERT_TRUE(config && without);
    EXPECT_EQ(backendOf(config).retries.per_try_timeout, 0ms);
    EXPECT_EQ(backendOf(config).slow_start, 0ms);
    EXPECT_EQ(config->hash, without->hash);  // "off" is the default spelled out
}

TEST(ClusterConfig, LimitsAreOffByDefaultAndOffHashesLikeNoBlock) {
    const auto without = load(withCluster("    endpoints: [127.0.0.1:9000]\n"));
    const auto off = load(withCluster(R"(    endpoints: [127.0.0.1:9000]
    limits: {max_connections: off, max_pending_requests: "off", max_requests: off}
)"));
    const auto empty = load(withCluster("    endpoints: [127.0.0.1:9000]\n    limits: {}\n"));
    ASSERT_TRUE(without && off && empty);
    for (const auto& config : {without, off, empty}) {
        const ClusterLimitsConfig& limits = backendOf(config).limits;
        EXPECT_EQ(limits.max_connections, 0u);
        EXPECT_EQ(limits.max_pending_requests, 0u);
        EXPECT_EQ(limits.max_requests, 0u);
    }
    // A cluster written before limits keeps its hash.
    EXPECT_EQ(off->hash, without->hash);
    EXPECT_EQ(empty->hash, without->hash);
    EXPECT_EQ(canonicalText(*without).find("clusters[backend].limits"), std::string::npos);
}

TEST(ClusterConfig, ReadsLimitsWhenGiven) {
    const auto config = load(withCluster(R"(    endpoints: [127.0.0.1:9000]
    limits: {max_connections: 100, max_pending_requests: 1, max_requests: 10000000}
)"));
    const auto without = load(withCluster("    endpoints: [127.0.0.1:9000]\n"));
    ASSERT_TRUE(config && without);
    const ClusterLimitsConfig& limits = backendOf(config).limits;
    EXPECT_EQ(limits.max_connections, 100u);
    EXPECT_EQ(limits.max_pending_requests, 1u);
    EXPECT_EQ(limits.max_requests, 10'000'000u);
    EXPECT_NE(config->hash, without->hash);
    EXPECT_TRUE(hasLine(*config, "clusters[backend].limits.max_connections = 100")) << canonicalText(*config);
    EXPECT_TRUE(hasLine(*config, "clusters[backend].limits.max_requests = 10000000")) << canonicalText(*config);
}

TEST(ClusterConfig, EachHashKeySourceIsRead) {
    const auto keyOf = [](const std::string& hash_key) {
        const auto config = load(withCluster("    endpoints: [127.0.0.1:9000]\n    lb: {policy: ring_hash, hash_key: \"" +
                                             hash_key + "\"}\n"));
        return config ? backendOf(config).lb.hash_key : HashKeySource{};
    };
    using Kind = HashKeySource::Kind;
    EXPECT_EQ(keyOf("header:x-user"), (HashKeySource{Kind::Header, "x-user"}));
    EXPECT_EQ(keyOf("cookie:sid"), (HashKeySource{Kind::Cookie, "sid"}));
    EXPECT_EQ(keyOf("client_ip"), (HashKeySource{Kind::ClientIp, ""}));
    EXPECT_EQ(keyOf("path"), (HashKeySource{Kind::Path, ""}));
}

TEST(ClusterConfig, HeaderNamesInHashKeyAreLowerCased) {
    const auto mixed = load(withCluster("    endpoints: [127.0.0.1:9000]\n    lb: {policy: maglev, hash_key: header:X-User-ID}\n"));
    const auto lower = load(withCluster("    endpoints: [127.0.0.1:9000]\n    lb: {policy: maglev, hash_key: header:x-user-id}\n"));
    ASSERT_TRUE(mixed && lower);
    EXPECT_EQ(backendOf(mixed).lb.hash_key, (HashKeySource{HashKeySource::Kind::Header, "x-user-id"}));
    EXPECT_TRUE(hasLine(*mixed, "clusters[backend].lb.hash_key = header:x-user-id")) << canonicalText(*mixed);
    EXPECT_EQ(mixed->hash, lower->hash);  // field names are case-insensitive: the same config
}

TEST(ClusterConfig, RetryConditionsAreDedupedAndSorted) {
    const auto config = load(withCluster(R"(    endpoints: [127.0.0.1:9000]
    retries: {on: [gateway-error, refused, gateway-error, connect-failure, refused]}
)"));
    const auto reordered = load(withCluster(R"(    endpoints: [127.0.0.1:9000]
    retries: {on: [connect-failure, gateway-error, refused]}
)"));
    ASSERT_TRUE(config && reordered);
    EXPECT_EQ(backendOf(config).retries.on,
              (std::vector<RetryOn>{RetryOn::ConnectFailure, RetryOn::Refused, RetryOn::GatewayError}));
    EXPECT_NE(canonicalText(*config).find("clusters[backend].retries.on += connect-failure\n"
                                          "clusters[backend].retries.on += refused\n"
                                          "clusters[backend].retries.on += gateway-error\n"),
              std::string::npos)
        << canonicalText(*config);
    EXPECT_EQ(config->hash, reordered->hash);
}

TEST(ClusterConfig, RetryConditionsEqualToTheDefaultHashLikeNoneGiven) {
    const auto repeated = load(withCluster("    endpoints: [127.0.0.1:9000]\n    retries: {on: [refused, connect-failure, refused]}\n"));
    const auto without = load(withCluster("    endpoints: [127.0.0.1:9000]\n"));
    ASSERT_TRUE(repeated && without);
    EXPECT_EQ(backendOf(repeated).retries.on, backendOf(without).retries.on);
    EXPECT_EQ(repeated->hash, without->hash);
}

// `on: []` (retry on nothing) means something else than the default [connect-failure, refused]:
// it must either be refused or read differently in the canonical form (the hash, the diff).
// An empty list would read like the default in the canonical form (no member lines): refused,
// with attempts: 1 as the way to say "no retries".
TEST(ClusterConfig, AnEmptyRetryConditionListIsRefused) {
    auto empty = loadConfigText(withCluster("    endpoints: [127.0.0.1:9000]\n    retries: {on: []}\n"), "test.yaml");
    ASSERT_FALSE(empty);
    EXPECT_NE(formatProblems(empty.error()).find("clusters[backend].retries.on: at least one retry condition is required"),
              std::string::npos)
        << formatProblems(empty.error());
}

TEST(ClusterConfig, RingHashTakesATableSizeThatIsNotPrime) {
    const auto config = load(withCluster(R"(    endpoints: [127.0.0.1:9000, 127.0.0.1:9001, 127.0.0.1:9002]
    lb: {policy: ring_hash, hash_key: client_ip, table_size: 2}
)"));
    ASSERT_TRUE(config);
    EXPECT_EQ(backendOf(config).lb.table_size, 2u);
}

struct BadClusterCase {
    const char* name;
    std::string keys;      // the cluster's keys, from line 5
    const char* expected;  // a substring of the formatted problems
};

class BadCluster : public testing::TestWithParam<BadClusterCase> {};

TEST_P(BadCluster, IsRefusedNamingLineAndPath) {
    auto result = loadConfigText(withCluster(GetParam().keys), "test.yaml");
    ASSERT_FALSE(result) << "loaded, expected: " << GetParam().expected;
    const std::string problems = formatProblems(result.error());
    EXPECT_NE(problems.find(GetParam().expected), std::string::npos) << "problems were:\n" << problems;
}

const std::string kOneEndpoint = "    endpoints: [127.0.0.1:9000]\n";

INSTANTIATE_TEST_SUITE_P(
    ClusterKeys, BadCluster,
    testing::Values(
        BadClusterCase{"maglev_without_hash_key", kOneEndpoint + "    lb: {policy: maglev}\n",
                       "test.yaml:6: clusters[backend].lb.hash_key: ring_hash and maglev need a hash_key"},
        BadClusterCase{"ring_hash_without_hash_key", kOneEndpoint + "    lb: {policy: ring_hash}\n",
                       "test.yaml:6: clusters[backend].lb.hash_key: ring_hash and maglev need a hash_key"},
        BadClusterCase{"hash_key_with_round_robin", kOneEndpoint + "    lb: {hash_key: client_ip}\n",
                       "test.yaml:6: clusters[backend].lb.hash_key: only ring_hash and maglev use a hash_key"},
        BadClusterCase{"hash_key_with_least_request", kOneEndpoint + "    lb: {policy: least_request, hash_key: path}\n",
                       "test.yaml:6: clusters[backend].lb.hash_key: only ring_hash and maglev use a hash_key"},
        BadClusterCase{"maglev_table_size_not_prime",
                       kOneEndpoint + "    lb: {policy: maglev, hash_key: client_ip, table_size: 65536}\n",
                       "test.yaml:6: clusters[backend].lb.table_size: maglev needs a prime table_size (e.g. 65537), "
                       "got 65536"},
        BadClusterCase{"maglev_table_size_below_endpoints",
                       "    endpoints: [127.0.0.1:9000, 127.0.0.1:9001, 127.0.0.1:9002]\n"
                       "    lb: {policy: maglev, hash_key: client_ip, table_size: 2}\n",
                       "test.yaml:4: clusters[backend].lb.table_size: maglev needs at least one slot per endpoint "
                       "(3), got 2"},
        BadClusterCase{"unknown_policy", kOneEndpoint + "    lb: {policy: random}\n",
                       "test.yaml:6: clusters[backend].lb.policy: must be 'round_robin', 'least_request', 'ring_hash' "
                       "or 'maglev', got 'random'"},
        BadClusterCase{"weight_zero", "    endpoints: [{address: 127.0.0.1:9000, weight: 0}]\n",
                       "test.yaml:5: clusters[backend].endpoints[0].weight: must be between 1 and 1000, got 0"},
        BadClusterCase{"weight_1001", "    endpoints: [127.0.0.1:9001, {address: 127.0.0.1:9000, weight: 1001}]\n",
                       "test.yaml:5: clusters[backend].endpoints[1].weight: must be between 1 and 1000, got 1001"},
        BadClusterCase{"same_address_different_weights",
                       "    endpoints:\n      - {address: 127.0.0.1:9000, weight: 2}\n      - 127.0.0.1:9000\n",
                       "test.yaml:7: clusters[backend].endpoints[1]: duplicate endpoint 127.0.0.1:9000"},
        BadClusterCase{"endpoint_without_address", "    endpoints: [{weight: 2}]\n",
                       "test.yaml:5: clusters[backend].endpoints[0]: missing required key 'address'"},
        BadClusterCase{"unknown_key_in_endpoint", "    endpoints: [{address: 127.0.0.1:9000, wieght: 2}]\n",
                       "test.yaml:5: clusters[backend].endpoints[0].wieght: unknown key (expected one of: address, "
                       "weight)"},
        BadClusterCase{"unknown_key_in_lb", kOneEndpoint + "    lb: {polcy: maglev}\n",
                       "test.yaml:6: clusters[backend].lb.polcy: unknown key"},
        BadClusterCase{"unknown_key_in_retries", kOneEndpoint + "    retries: {attempt: 3}\n",
                       "test.yaml:6: clusters[backend].retries.attempt: unknown key"},
        BadClusterCase{"unknown_key_in_outlier_detection", kOneEndpoint + "    outlier_detection: {consecutive_500: 3}\n",
                       "test.yaml:6: clusters[backend].outlier_detection.consecutive_500: unknown key"},
        BadClusterCase{"hash_key_header_without_name",
                       kOneEndpoint + "    lb: {policy: maglev, hash_key: \"header:\"}\n",
                       "test.yaml:6: clusters[backend].lb.hash_key: 'header:': header: needs a name"},
        BadClusterCase{"hash_key_cookie_name_with_blank",
                       kOneEndpoint + "    lb: {policy: maglev, hash_key: \"cookie:a b\"}\n",
                       "test.yaml:6: clusters[backend].lb.hash_key: 'cookie:a b': cookie: needs a name"},
        BadClusterCase{"hash_key_unknown_source", kOneEndpoint + "    lb: {policy: maglev, hash_key: \"query:x\"}\n",
                       "test.yaml:6: clusters[backend].lb.hash_key: must be header:NAME, cookie:NAME, client_ip or "
                       "path, got 'query:x'"},
        BadClusterCase{"unknown_retry_condition", kOneEndpoint + "    retries: {on: [refused, timeout]}\n",
                       "test.yaml:6: clusters[backend].retries.on[1]: must be 'connect-failure', 'refused', "
                       "'reset-before-response' or 'gateway-error', got 'timeout'"},
        BadClusterCase{"attempts_0", kOneEndpoint + "    retries: {attempts: 0}\n",
                       "test.yaml:6: clusters[backend].retries.attempts: must be between 1 and 10, got 0"},
        BadClusterCase{"attempts_11", kOneEndpoint + "    retries: {attempts: 11}\n",
                       "test.yaml:6: clusters[backend].retries.attempts: must be between 1 and 10, got 11"},
        BadClusterCase{"budget_percent_above_100", kOneEndpoint + "    retries: {budget_percent: 101}\n",
                       "test.yaml:6: clusters[backend].retries.budget_percent: must be between 0 and 100, got 101"},
        BadClusterCase{"max_ejection_percent_above_100",
                       kOneEndpoint + "    outlier_detection: {max_ejection_percent: 101}\n",
                       "test.yaml:6: clusters[backend].outlier_detection.max_ejection_percent: must be between 0 and "
                       "100, got 101"},
        BadClusterCase{"max_requests_0", kOneEndpoint + "    limits: {max_requests: 0}\n",
                       "test.yaml:6: clusters[backend].limits.max_requests: must be an integer from 1 to 10000000 or "
                       "'off', got '0'"},
        BadClusterCase{"max_requests_negative", kOneEndpoint + "    limits: {max_requests: -1}\n",
                       "test.yaml:6: clusters[backend].limits.max_requests: must be an integer from 1 to 10000000 or "
                       "'off', got '-1'"},
        BadClusterCase{"max_requests_lots", kOneEndpoint + "    limits: {max_requests: lots}\n",
                       "test.yaml:6: clusters[backend].limits.max_requests: must be an integer from 1 to 10000000 or "
                       "'off', got 'lots'"},
        BadClusterCase{"max_connections_above_max", kOneEndpoint + "    limits: {max_connections: 10000001}\n",
                       "test.yaml:6: clusters[backend].limits.max_connections: must be an integer from 1 to 10000000 "
                       "or 'off', got '10000001'"},
        BadClusterCase{"max_pending_requests_not_a_scalar", kOneEndpoint + "    limits: {max_pending_requests: [1]}\n",
                       "test.yaml:6: clusters[backend].limits.max_pending_requests:"},
        BadClusterCase{"unknown_key_in_limits", kOneEndpoint + "    limits: {max_request: 5}\n",
                       "test.yaml:6: clusters[backend].limits.max_request: unknown key"}),
    [](const testing::TestParamInfo<BadClusterCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace hotgate

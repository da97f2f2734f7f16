// The config hash names a config in history, logs, x-hotgate-version and the handover: the same
// file must hash the same from one build to the next. These pins were taken from the loader
// before the schema tables drove it. A new key with a default adds its line to every canonical
// form, and so moves every pin: update them in the same commit and say so. (`workers` is given
// in every file: its default, one per CPU, differs between machines.)
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "config_samples.h"

namespace hotgate {
namespace {

// What the loader made of test::kEveryKeyConfig (loaded as /etc/hotgate/pinned.yaml).
constexpr const char* kEveryKeyCanonical = R"(workers = 3
admin.address = [::1]:9902
dataplane.steering = off
dataplane.bpffs_root = /sys/fs/bpf/pinned
dataplane.xdp_interfaces += veth0
dataplane.xdp_interfaces += veth1
dataplane.xdp_interfaces += veth1
listeners[alpha].address = [::1]:8080
listeners[web].address = 127.0.0.1:8443
listeners[web].trusted_proxies += 10.0.0.0/8
listeners[web].trusted_proxies += ::1/128
listeners[web].protocols = [h2, http1]
listeners[web].http2.max_concurrent_streams = 100
listeners[web].http2.initial_stream_window = 262144
listeners[web].http2.max_header_list = 32768
listeners[web].tls.certificates[0].certificate_file = "/etc/hotgate/certs/b.pem"
listeners[web].tls.certificates[0].key_file = "/etc/keys/b.key"
listeners[web].tls.certificates[0].sni += api.example.com
listeners[web].tls.certificates[0].sni += shop.example.com
listeners[web].tls.certificates[1].certificate_file = "/etc/a.pem"
listeners[web].tls.certificates[1].key_file = "/etc/hotgate/keys/a.key"
tls.session_ticket_keys = "/etc/hotgate/ticket.keys"
limits.max_header_bytes = 8192
limits.max_body_bytes = 1572864
limits.max_connections = 77
limits.rate_limit_buckets = 1000
timeouts.header_read = 1500ms
timeouts.body_read = 2500ms
timeouts.send = 45000ms
timeouts.idle = 90000ms
timeouts.upstream_connect = 250ms
timeouts.upstream_response = 3600000ms
timeouts.drain = 3000ms
routes[zeta].order = 0
routes[zeta].match.host = *.example.com
routes[zeta].match.path_prefix = 
routes[zeta].match.path = /exact
routes[zeta].direct_response.status = 418
routes[zeta].direct_response.body = "say \"hi\"\\ there\n\x09tab \xc3\xa9"
routes[any].order = 1
routes[any].match.host = 
routes[any].match.path_prefix = /api/
routes[any].match.path = 
routes[any].cluster = pool
routes[any].critical = false
routes[any].rate_limit.requests_per_second = 2.5
routes[any].rate_limit.burst = 40
routes[any].rate_limit.key = header:x-api-key
routes[any].circuit_breaker.enabled = false
routes[any].circuit_breaker.window = 30000ms
routes[any].circuit_breaker.sample_interval = 5000ms
routes[any].circuit_breaker.qps_ratio = 2
routes[any].circuit_breaker.p95_delta = 500ms
routes[any].circuit_breaker.shed_percent = 10
routes[any].circuit_breaker.min_requests = 50
routes[any].shadow = true
routes[any].stream_drain = 2000ms
routes[empty].order = 2
routes[empty].match.host = 
routes[empty].match.path_prefix = /
routes[empty].match.path = 
routes[empty].direct_response.status = 200
routes[empty].direct_response.body = ""
clusters[bare].endpoints += 127.0.0.1:1
clusters[bare].max_idle_per_endpoint = 64
clusters[bare].tls.ca_file = ""
clusters[bare].tls.sni = 
clusters[bare].tls.verify = true
clusters[pool].endpoints += 10.0.0.10:80
clusters[pool].endpoints += 10.0.0.2:9000 weight=3
clusters[pool].endpoints += 10.0.0.2:10000
clusters[pool].endpoints += [::1]:80
clusters[pool].max_idle_per_endpoint = 0
clusters[pool].protocol = h2
clusters[pool].http2.connections_per_endpoint = 4
clusters[pool].http2.max_streams_per_connection = 50
clusters[pool].tls.ca_file = "/etc/hotgate/ca.pem"
clusters[pool].tls.sni = api.internal
clusters[pool].tls.verify = false
clusters[pool].lb.policy = maglev
clusters[pool].lb.hash_key = header:x-user-id
clusters[pool].lb.table_size = 655373
clusters[pool].outlier_detection.consecutive_5xx = 7
clusters[pool].outlier_detection.consecutive_gateway_errors = 2
clusters[pool].outlier_detection.interval = 5000ms
clusters[pool].outlier_detection.base_ejection_time = 60000ms
clusters[pool].outlier_detection.max_ejection_percent = 30
clusters[pool].retries.attempts = 3
clusters[pool].retries.on += refused
clusters[pool].retries.on += gateway-error
clusters[pool].retries.per_try_timeout = 1500ms
clusters[pool].retries.budget_percent = 10
clusters[pool].retries.backoff = 50ms
clusters[pool].slow_start = 20000ms
clusters[pool].limits.max_connections = 100
clusters[pool].limits.max_pending_requests = 20
clusters[pool].limits.max_requests = 200
health.enabled = false
health.spike_threshold = 1500000us
health.spike_p99_factor = 2.5
health.spike_floor = 750000us
health.window = 120000ms
config_engine.verification_window = 500ms
config_engine.max_5xx_ratio_increase = 0.125
config_engine.p99_factor = 0
config_engine.p99_floor = 7ms
config_engine.min_requests = 5
config_engine.history = 3
circuit_breaker.enabled = true
circuit_breaker.window = 120000ms
circuit_breaker.sample_interval = 15000ms
circuit_breaker.qps_ratio = 1.5
circuit_breaker.p95_delta = 150ms
circuit_breaker.shed_percent = 40
circuit_breaker.min_requests = 10
upgrade.require_signature = true
upgrade.verify.headers += content-type
upgrade.verify.headers += etag
upgrade.verify.latency_tolerance = 0.2
upgrade.verify.latency_floor = 2ms
telemetry.service_name = "gw-edge"
telemetry.otlp.endpoint = "http://127.0.0.1:4318/v1/traces"
telemetry.otlp.timeout = 3000ms
telemetry.sample_ratio = 0.25
access_log[0].path = "/var/log/hotgate/access.log"
access_log[0].fields = [time, status, version, upstream_ms]
access_log[0].sample = 0.5
access_log[1].path = "-"
access_log[1].format = combined
config_source.etcd.endpoints = ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
config_source.etcd.prefix = "/hotgate/prod"
config_source.etcd.host_id = "gw-01"
config_source.etcd.last_good = /var/lib/hotgate/last-good.yaml
config_source.etcd.tls.ca_file = /etc/hotgate/etcd-ca.pem
config_source.etcd.tls.cert_file = /etc/hotgate/etcd-client.pem
config_source.etcd.tls.key_file = /etc/hotgate/etcd-client.key
)";

// Only what is required: every other key at its default.
constexpr const char* kMinimal = R"(workers: 1
listeners: [{ name: public, address: 127.0.0.1:8080 }]
routes: [{ name: all, match: { path_prefix: / }, direct_response: {} }]
)";


ConfigSnapshot load(const std::string& text) {
    auto config = loadConfigText(text, "/etc/hotgate/pinned.yaml");
    EXPECT_TRUE(config) << (config ? "" : formatProblems(config.error()));
    return config ? *config : nullptr;
}

TEST(ConfigHashPin, TheShippedDefault) {
    auto config = loadConfigFile(std::string(HOTGATE_SOURCE_DIR) + "/configs/default.yaml");
    ASSERT_TRUE(config) << formatProblems(config.error());
    EXPECT_EQ((*config)->hash, "f901434b8238") << canonicalText(**config);
}

TEST(ConfigHashPin, EveryKeyHasItsCanonicalLine) {
    const auto config = load(test::kEveryKeyConfig);
    ASSERT_TRUE(config);
    EXPECT_EQ(canonicalText(*config), kEveryKeyCanonical);
    EXPECT_EQ(config->hash, "3d0fcf54678a");  // 6ba28ac7b507 before access_log;
                                              // eb95c964385a before config_source.etcd.tls;
                                              // d9759044724e before config_source;
                                              // d9a6fd4b76b9 before routes[].stream_drain;
                                              // a7218e06b892 before clusters[].protocol and http2;
                                              // 60c5267ffe79 before listeners[].protocols and http2;
                                              // 92fbb2061e78 before upgrade.verify and routes[].shadow;
                                              // 444a9f937643 before telemetry.sample_ratio;
                                              // 6f631383690f before telemetry;
                                              // 47f947a80621 before upgrade.require_signature;
                                              // 6b02b7c749c7 before protection and cluster limits;
                                              // 5b5bf6d1acb8 before weights, lb, outlier_detection,
                                              // retries, slow_start; 49b56c87ecf9 before trusted_proxies, body_read, send
}

TEST(ConfigHashPin, DefaultsOnly) {
    const auto config = load(kMinimal);
    ASSERT_TRUE(config);
    EXPECT_EQ(config->hash, "9b16219aba81") << canonicalText(*config);
}

TEST(ConfigHashPin, SeveralListenersRoutesAndClusters) {
    const auto config = load(test::kGatewayConfig);
    ASSERT_TRUE(config);
    EXPECT_EQ(config->hash, "5ff7a6b3edd0") << canonicalText(*config);
}

}  // namespace
}  // namespace hotgate

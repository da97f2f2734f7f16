// Config texts shared by the config tests.
#pragma once

namespace hotgate::test {

// Every key of every section, most away from their defaults, with the forms normalization must
// see through: unsorted and repeated set members, upper case, relative files, units. Load it
// with a fixed name (relative files resolve against it). A new key gets a line here: the
// schema test checks that every documented key appears in this config's canonical form.
inline constexpr const char* kEveryKeyConfig = R"(workers: 3
admin: { address: "[::1]:9902" }
dataplane:
  steering: "off"
  bpffs_root: /sys/fs/bpf/pinned
  xdp_interfaces: [veth1, veth0, veth1]
listeners:
  - name: web
    address: 127.0.0.1:8443
    trusted_proxies: [10.0.0.0/8, "::1", 10.0.0.0/8]
    protocols: [h2, http1]
    http2: { max_concurrent_streams: 100, initial_stream_window: 256k, max_header_list: 32KiB }
    tls:
      certificates:
        - certificate_file: certs/b.pem
          key_file: /etc/keys/b.key
          sni: [Shop.Example.com, api.example.com, shop.example.com]
        - { certificate_file: /etc/a.pem, key_file: keys/a.key }
  - name: alpha
    address: "[::1]:8080"
tls:
  session_ticket_keys: ticket.keys
limits: { max_header_bytes: 8KiB, max_body_bytes: 1.5m, max_connections: 77, rate_limit_buckets: 1000 }
timeouts: { header_read: 1500ms, body_read: 2.5s, send: 45s, idle: 1.5m, upstream_connect: 0.25s,
            upstream_response: 1h, drain: 3s }
routes:
  - name: zeta
    match: { host: "*.Example.com", path: /exact }
    direct_response: { status: 418, body: "say \"hi\"\\ there\n\ttab \u00e9" }
  - name: any
    match: { host: "*", path_prefix: /api/ }
    cluster: pool
    critical: no
    rate_limit: { requests_per_second: 2.50, burst: 40, key: "header:X-Api-Key" }
    circuit_breaker:
      enabled: false
      window: 30s
      sample_interval: 5s
      qps_ratio: 2
      p95_delta: 0.5s
      shed_percent: 10
      min_requests: 50
    shadow: yes
    stream_drain: 2s
  - name: empty
    match: { path_prefix: / }
    direct_response: { body: "" }
clusters:
  - name: pool
    endpoints: ["10.0.0.2:10000", {address: "10.0.0.2:9000", weight: 3}, "[::1]:80", 10.0.0.10:80]
    max_idle_per_endpoint: 0
    protocol: h2
    http2: { connections_per_endpoint: 4, max_streams_per_connection: 50 }
    tls: { ca_file: ca.pem, sni: API.Internal, verify: no }
    lb: { policy: maglev, hash_key: header:X-User-Id, table_size: 655373 }
    outlier_detection:
      consecutive_5xx: 7
      consecutive_gateway_errors: 2
      interval: 5s
      base_ejection_time: 1m
      max_ejection_percent: 30
    retries:
      attempts: 3
      on: [gateway-error, refused, gateway-error]
      per_try_timeout: 1.5s
      budget_percent: 10
      backoff: 50ms
    slow_start: 20s
    limits: { max_connections: 100, max_pending_requests: 20, max_requests: 200 }
  - name: bare
    endpoints: [127.0.0.1:1]
    tls: {}
health:
  enabled: off
  spike_threshold: 1.5s
  spike_p99_factor: "2.5"
  spike_floor: 750ms
  window: 2m
config_engine:
  verification_window: 500ms
  max_5xx_ratio_increase: 0.125
  p99_factor: 0
  p99_floor: 7ms
  min_requests: 5
  history: 3
circuit_breaker:
  enabled: yes
  window: 2m
  sample_interval: 15s
  qps_ratio: 1.5
  p95_delta: 150ms
  shed_percent: 40
  min_requests: 10
upgrade:
  require_signature: yes
  verify: { headers: [Content-Type, ETag, content-type], latency_tolerance: 0.2, latency_floor: 2ms }
telemetry:
  service_name: gw-edge
  otlp:
    endpoint: http://127.0.0.1:4318/v1/traces
    encoding: json
    timeout: 3s
  sample_ratio: 0.25
access_log:
  - path: /var/log/hotgate/access.log
    format: json
    fields: [time, status, version, upstream_ms]
    sample: 0.5
  - { path: "-", format: combined }
config_source:
  etcd:
    endpoints: ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
    prefix: /hotgate/prod
    host_id: gw-01
    last_good: /var/lib/hotgate/last-good.yaml
    tls:
      ca_file: /etc/hotgate/etcd-ca.pem
      cert_file: /etc/hotgate/etcd-client.pem
      key_file: /etc/hotgate/etcd-client.key
)";

// A gateway with several listeners, clusters and routes, units on limits and timeouts: the
// base of the semantic-diff tests, and one of the configs whose hash is pinned.
inline constexpr const char* kGatewayConfig = R"(workers: 2
admin: { address: 127.0.0.1:9901 }
listeners:
  - name: public
    address: 127.0.0.1:8080
  - name: internal
    address: 127.0.0.1:8081
limits:
  max_header_bytes: 16k
timeouts:
  upstream_connect: 1.5s
routes:
  - name: api
    match: { path_prefix: /api/ }
    cluster: a
  - name: pay
    match: { host: pay.example.com, path_prefix: / }
    cluster: pay
  - name: hello
    match: { path_prefix: / }
    direct_response: { status: 200, body: "hi\n" }
clusters:
  - name: a
    endpoints: [127.0.0.1:9000, 127.0.0.1:9001]
  - name: b
    endpoints: [127.0.0.1:9100]
  - name: pay
    endpoints: [10.0.0.5:80, 10.0.0.6:80]
    max_idle_per_endpoint: 8
)";

}  // namespace hotgate::test

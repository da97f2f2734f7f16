// Config: the immutable, validated snapshot every worker reads. Built whole by the loader
// (config_loader.h) and published as shared_ptr<const Config>; never modified after that.
// Every key's default, bounds, doc line and whether a change applies in place or needs a new
// version live in the schema tables (config/schema/<section>.cpp, published as docs/config.md);
// the members here are value-initialized until the loader fills them.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/cidr.h"

namespace hotgate {

// An IP literal and port ("127.0.0.1:8080", "[::1]:8080").
struct SocketAddress {
    std::string ip;
    uint16_t port = 0;

    std::string toString() const;
    bool operator==(const SocketAddress&) const = default;
    auto operator<=>(const SocketAddress&) const = default;  // by IP text, then port: a set's order
};

struct AdminConfig {
    SocketAddress address;
};

// One server certificate of a TLS listener. Paths are absolute (the loader resolves relative
// ones against the config file's directory). Certificates change in place (config apply,
// `gwctl certs reload`, or the files being replaced).
struct TlsCertificateConfig {
    std::string certificate_file;  // PEM: leaf, then intermediates
    std::string key_file;          // PEM private key
    std::vector<std::string> sni;  // names it serves, a set (sorted); empty: the certificate's own names

    bool operator==(const TlsCertificateConfig&) const = default;
};

// A listener terminates TLS when it has at least one certificate; the first is the default for
// clients without SNI or with an unknown name.
struct ListenerTlsConfig {
    std::vector<TlsCertificateConfig> certificates;

    bool operator==(const ListenerTlsConfig&) const = default;
};

// The HTTP versions a listener speaks to clients (docs/http2.md).
enum class HttpProtocol { Http1, H2 };

// A listener's HTTP/2 settings, sent in its SETTINGS frame (RFC 9113 6.5.2).
struct Http2Config {
    std::uint64_t max_concurrent_streams = 256;
    std::uint64_t initial_stream_window = 1024 * 1024;  // bytes a client may send on a stream unread
    std::uint64_t max_header_list = 64 * 1024;          // decoded request header list, RFC 9113 sizes

    bool operator==(const Http2Config&) const = default;
};

// A listener is a named group of per-worker SO_REUSEPORT sockets on one address.
struct ListenerConfig {
    std::string name;
    SocketAddress address;
    std::optional<ListenerTlsConfig> tls;
    std::vector<Cidr> trusted_proxies;  // peers whose forwarding fields are kept (a set, sorted)
    // In preference order (TLS: the ALPN order). Plaintext: h2 by prior knowledge when the
    // connection starts with the HTTP/2 preface, else HTTP/1.1.
    std::vector<HttpProtocol> protocols{HttpProtocol::Http1};
    Http2Config http2;

    bool speaks(HttpProtocol protocol) const {
        return std::find(protocols.begin(), protocols.end(), protocol) != protocols.end();
    }
};

// Process-wide TLS settings.
struct TlsConfig {
    // Session ticket keys (one base64 80-byte key a line, the first encrypts). Empty: a random
    // key made at first start, handed to each next version over the control socket.
    std::string session_ticket_keys;
};

struct RouteMatch {
    std::string host;         // empty: any host; "*.example.com": suffix match; else exact (case-insensitive)
    std::string path_prefix;  // empty unless given
    std::string path;         // exact path; empty unless given
};

struct DirectResponse {
    unsigned status = 0;
    std::string body;
};

inline constexpr unsigned kMaxRateLimitBurst = 65535;  // tokens a shared bucket holds at most
inline constexpr unsigned kMaxBreakerSamples = 64;     // samples a breaker's window holds at most

// Where a route's rate limit reads a request's key (docs/protection.md).
struct RateLimitKey {
    enum class Kind { ClientIp, Header, Route };
    Kind kind = Kind::ClientIp;
    std::string name;  // Header: the field name (lower case)

    bool operator==(const RateLimitKey&) const = default;
};

// A token bucket per (route, key): `requests_per_second` refill, at most `burst` at once.
struct RateLimitConfig {
    double requests_per_second = 0;
    unsigned burst = 0;
    RateLimitKey key;
};

// Where the OpenTelemetry spans of upgrades and config applies go (docs/telemetry.md).
enum class OtlpWireEncoding { Json, Protobuf };
struct OtlpConfig {
    std::string endpoint;  // http://host:port/path of an OTLP/HTTP collector; empty: no export
    OtlpWireEncoding encoding = OtlpWireEncoding::Json;
    std::chrono::milliseconds timeout{};  // per export request
};
struct TelemetryConfig {
    std::string service_name;  // the spans' service.name
    OtlpConfig otlp;
    double sample_ratio = 0;  // share of proxied requests that get a span (docs/telemetry.md)
};

// The adaptive circuit breaker's timing and thresholds (docs/protection.md, levels L0-L3).
struct CircuitBreakerConfig {
    bool enabled = false;
    std::chrono::milliseconds window{};           // the baseline: samples this far back
    std::chrono::milliseconds sample_interval{};  // one sample (and one level step) per interval
    double qps_ratio = 0;                         // current / baseline QPS at or above: a signal
    std::chrono::milliseconds p95_delta{};        // current - baseline p95 above: a signal
    unsigned shed_percent = 0;                    // L2: share of requests refused (503)
    unsigned min_requests = 0;                    // a sample with fewer requests gives no signal

    bool operator==(const CircuitBreakerConfig&) const = default;
};

// A route's own circuit breaker settings: each one given replaces the top level's.
struct CircuitBreakerOverride {
    std::optional<bool> enabled;
    std::optional<std::chrono::milliseconds> window;
    std::optional<std::chrono::milliseconds> sample_interval;
    std::optional<double> qps_ratio;
    std::optional<std::chrono::milliseconds> p95_delta;
    std::optional<unsigned> shed_percent;
    std::optional<unsigned> min_requests;

    CircuitBreakerConfig over(const CircuitBreakerConfig& top) const;
};

struct RouteConfig {
    std::string name;
    RouteMatch match;
    std::string cluster;                          // set when the route proxies
    std::optional<DirectResponse> direct_response; // set when it answers itself
    bool critical = true;                         // false: refused first under load (breaker L3)
    std::optional<RateLimitConfig> rate_limit;    // absent: no limit
    CircuitBreakerOverride circuit_breaker;       // over Config::circuit_breaker
    bool shadow = false;  // gwctl verify also mirrors its other methods (docs/verification.md)
    std::chrono::milliseconds stream_drain{};  // 0: timeouts.drain; HTTP/2 streams open this long into a drain are ended
};

// TLS from the gateway to a cluster's endpoints.
struct ClusterTlsConfig {
    std::string ca_file;  // PEM CAs to verify the endpoints against; empty: the system's CAs
    std::string sni;      // server name sent, and required in the endpoint's certificate; empty: none
    bool verify = false;  // false: encrypt without checking who answers (tests, migrations only)

    bool operator==(const ClusterTlsConfig&) const = default;
};

// One endpoint of a cluster: its address and its share of the cluster's traffic.
struct EndpointConfig {
    SocketAddress address;
    unsigned weight = 1;

    bool operator==(const EndpointConfig&) const = default;
    auto operator<=>(const EndpointConfig&) const = default;  // by address: a set's order
};

// How a cluster picks an endpoint for a request (docs/routing.md).
enum class LbPolicy { RoundRobin, LeastRequest, RingHash, Maglev };

// Where a hashing policy reads a request's key.
struct HashKeySource {
    enum class Kind { None, Header, Cookie, ClientIp, Path };
    Kind kind = Kind::None;
    std::string name;  // Header: the field name (lower case); Cookie: the cookie name

    bool operator==(const HashKeySource&) const = default;
};

struct LbConfig {
    LbPolicy policy = LbPolicy::RoundRobin;
    HashKeySource hash_key;       // required by ring_hash and maglev
    std::uint64_t table_size = 0;  // maglev: slots (a prime); ring_hash: the ring's minimum points

    bool operator==(const LbConfig&) const = default;
};

// Passive ejection of endpoints that keep failing (per worker; docs/routing.md).
struct OutlierDetectionConfig {
    unsigned consecutive_5xx = 0;             // 0: this signal is off
    unsigned consecutive_gateway_errors = 0;  // 502/503/504 and connect/reset failures; 0: off
    std::chrono::milliseconds interval{};     // an endpoint back for this long forgets one ejection
    std::chrono::milliseconds base_ejection_time{};  // ejected for base x times ejected
    unsigned max_ejection_percent = 0;        // never more ejected at once (but at least one)
};

// What a failed try of a request may be retried on.
enum class RetryOn : std::uint8_t {
    ConnectFailure,       // the connect failed or timed out (nothing was sent)
    Refused,              // the connect was refused (nothing was sent)
    ResetBeforeResponse,  // the connection closed or reset before any response byte
    GatewayError,         // a 502, 503 or 504 from the endpoint, or a per-try timeout
    kCount
};

struct RetryConfig {
    unsigned attempts = 0;                     // tries in all, the first included
    std::vector<RetryOn> on;                   // a set, sorted
    std::chrono::milliseconds per_try_timeout{};  // 0: only timeouts.upstream_response
    unsigned budget_percent = 0;               // retries at most this share of requests over 10 s
    std::chrono::milliseconds backoff{};       // base of the jittered exponential backoff

    bool allows(RetryOn reason) const;
};

// Static limits of a cluster, per gateway process (summed over its workers): what overflows
// one is answered 503 (proxy/cluster_limits.h). 0: no limit.
struct ClusterLimitsConfig {
    std::uint64_t max_connections = 0;       // upstream connections open (idle pooled + busy)
    std::uint64_t max_pending_requests = 0;  // requests waiting for a new connection to connect
    std::uint64_t max_requests = 0;          // requests in flight to the cluster
};

// The HTTP version a cluster's endpoints are spoken to in (docs/http2.md).
enum class ClusterProtocol { Http1, H2 };

// The multiplexed connections of an h2 cluster, per endpoint per worker: a stream goes on a
// connection with a free stream (fewest streams first); a new connection opens when none has
// one and there are fewer than connections_per_endpoint; else the stream waits for a free one
// for timeouts.upstream_connect at most.
struct ClusterHttp2Config {
    std::uint64_t connections_per_endpoint = 2;
    std::uint64_t max_streams_per_connection = 100;  // or the endpoint's SETTINGS, when lower

    bool operator==(const ClusterHttp2Config&) const = default;
};

struct ClusterConfig {
    std::string name;
    ClusterProtocol protocol = ClusterProtocol::Http1;
    ClusterHttp2Config http2;
    std::vector<EndpointConfig> endpoints;  // a set, sorted by address
    std::size_t max_idle_per_endpoint = 0;  // pooled idle upstream connections per endpoint per worker
    std::optional<ClusterTlsConfig> tls;     // TLS to the endpoints when set
    LbConfig lb;
    std::optional<OutlierDetectionConfig> outlier_detection;  // absent: no ejection
    RetryConfig retries;
    std::chrono::milliseconds slow_start{};  // 0: off; else a new or returning endpoint ramps up over it
    ClusterLimitsConfig limits;  // static limits; all 0 (off) by default
};

struct Limits {
    std::size_t max_header_bytes = 0;
    std::uint64_t max_body_bytes = 0;
    std::size_t max_connections = 0;
    std::uint64_t rate_limit_buckets = 0;  // the shared token bucket table's slots (docs/protection.md)
};

struct Timeouts {
    std::chrono::milliseconds header_read{};
    std::chrono::milliseconds body_read{};
    std::chrono::milliseconds send{};
    std::chrono::milliseconds idle{};
    std::chrono::milliseconds upstream_connect{};
    std::chrono::milliseconds upstream_response{};
    std::chrono::milliseconds drain{};
};

// How new connections are steered to this version (see bpf/steer.bpf.c).
struct DataplaneConfig {
    bool steering = false;   // false: never try BPF, always fd takeover
    std::string bpffs_root;  // pinned maps: <root>/<listener>/
    // Interfaces the XDP front (bpf/front.bpf.c: per-port counters, deny list) attaches to.
    // Empty by default: attaching XDP to a host's interfaces is the operator's explicit choice.
    std::vector<std::string> xdp_interfaces;
};

// TCP health profile (bpf/health.bpf.c): spike thresholds and the rolling window.
struct HealthConfig {
    bool enabled = false;
    std::chrono::microseconds spike_threshold{};  // absolute: handshake/connect above it is a spike
    double spike_p99_factor = 0;                  // above factor x rolling p99 is a spike (0: off)
    std::chrono::microseconds spike_floor{};      // the p99-relative threshold never goes below
    std::chrono::milliseconds window{};           // rolling window for p50/p99
};

// How the config engine applies a change live (see control/config_engine.h): how long it
// watches the affected routes after a swap and what counts as "worse" there.
struct ConfigEngineConfig {
    std::chrono::milliseconds verification_window{};
    double max_5xx_ratio_increase = 0;       // after - before share of 5xx answers that rolls back
    double p99_factor = 0;                   // after p99 > factor x before p99 rolls back (0: off)
    std::chrono::milliseconds p99_floor{};   // before p99 counts as at least this (tiny p99s are noise)
    std::size_t min_requests = 0;            // fewer answers than this in the window: no verdict on them
    std::size_t history = 0;                 // snapshots kept for rollback and `gwctl config history`
};

// What `gwctl upgrade` demands of a new binary before it runs it (docs/operations.md#signed-artifacts).
// The running version reports it in its Status reply; gwctl enforces it.
// How `gwctl verify` compares the two versions' answers to mirrored requests
// (docs/verification.md): these response fields, and latency within tolerance or floor.
struct ShadowVerifyConfig {
    std::vector<std::string> headers;           // field names, lower case
    double latency_tolerance = 0.1;             // share of the running version's latency
    std::chrono::milliseconds latency_floor{};  // a difference this small is never a mismatch
};

struct UpgradeConfig {
    bool require_signature = false;  // refuse a binary without a valid --signature/--public-key
    ShadowVerifyConfig verify;
};

// Where the fleet's shared config comes from (docs/fleet.md): etcd's <prefix>/config, merged
// with the local file (this host's part), watched, and kept in `last_good`.
// TLS to etcd's members (their --cert-file, and --client-cert-auth when a client certificate
// is given).
struct EtcdTlsConfig {
    std::string ca_file;    // PEM CAs the members' certificates are verified against
    std::string cert_file;  // PEM client certificate (chain); empty: none
    std::string key_file;   // its private key

    bool operator==(const EtcdTlsConfig&) const = default;
};
struct EtcdSourceConfig {
    std::vector<std::string> endpoints;  // "http://127.0.0.1:2379" ("https://" with tls), tried in order
    std::string prefix;                  // "/hotgate/prod": <prefix>/config, <prefix>/hosts/<host_id>
    std::string host_id;                 // empty: the host name
    std::string last_good;               // every applied config is written here (0600)
    std::optional<EtcdTlsConfig> tls;    // absent: plain HTTP

    bool operator==(const EtcdSourceConfig&) const = default;
};
struct ConfigSourceConfig {
    std::optional<EtcdSourceConfig> etcd;  // absent: the local file alone
};

// The access log (docs/operations.md "Access log"): one line per answered request, per sink.
enum class AccessLogFormat {
    Json,      // one JSON object a line, with the sink's fields
    Combined,  // NGINX/Apache combined, then the serving version in quotes
};
// What a JSON line says of its request, in the order the sink lists them.
enum class AccessField {
    Time,         // when the answer ended, UTC, RFC 3339 with milliseconds
    ClientIp,
    Method,
    Path,         // the request target as the client sent it (path and query)
    Protocol,     // HTTP/1.0, HTTP/1.1 or HTTP/2.0
    Host,
    Status,       // the status answered (0: none, the client left first)
    BytesSent,    // bytes written to the client for this request, head included
    DurationMs,   // from the complete request head to the end of the answer
    Route,
    Cluster,
    Upstream,     // the endpoint of the last try
    UpstreamMs,   // the last try: from sending the request to the response head
    Attempts,     // tries (retries included)
    Version,      // the serving version (x-hotgate-version)
    RequestId,    // X-Request-Id as sent upstream (the client's, or the one hotgate made)
    Traceparent,  // as sent upstream
    TlsVersion,
    Sni,
    UserAgent,
    Referer,
};
struct AccessLogConfig {
    std::string path;  // absolute, or "-" for standard output
    AccessLogFormat format = AccessLogFormat::Json;
    std::vector<AccessField> fields;  // json only
    double sample = 1;  // share of requests logged; answers of 500 and above always are

    bool operator==(const AccessLogConfig&) const = default;
};

struct Config {
    unsigned workers = 0;
    AdminConfig admin;
    DataplaneConfig dataplane;
    std::vector<ListenerConfig> listeners;
    TlsConfig tls;
    Limits limits;
    Timeouts timeouts;
    std::vector<RouteConfig> routes;  // in match order
    std::vector<ClusterConfig> clusters;
    HealthConfig health;
    ConfigEngineConfig config_engine;
    CircuitBreakerConfig circuit_breaker;  // every route's, unless it overrides
    UpgradeConfig upgrade;
    TelemetryConfig telemetry;
    std::vector<AccessLogConfig> access_log;  // sinks; none: no access log
    ConfigSourceConfig config_source;

    std::string source_path;  // the file it was loaded from
    std::string hash;         // 12 hex digits of SHA-256 over the normalized form (canonicalText)

    const ClusterConfig* findCluster(const std::string& name) const;
    const RouteConfig* findRoute(const std::string& name) const;
};

using ConfigSnapshot = std::shared_ptr<const Config>;

// The normalized text form of a config: every value explicit (defaults filled in), units
// resolved, one `path = value` line each (config/schema/canonical_form.h). Two files that mean
// the same thing give the same text.
std::string canonicalText(const Config& config);

}  // namespace hotgate

// Metrics: the gateway's Prometheus families, every series labelled with this process's version
// (`<build>/<config-hash>`), so two versions side by side during a cutover are told apart.
// Series are created up front for every listener, route and cluster of a config snapshot
// (seriesFor(), again for each snapshot the config engine swaps in), so the request path only
// increments counters (no label lookups, no locks but the histogram's own). The `version`
// label stays the process's start version (its identity during an upgrade); the config the
// process serves now is hotgate_config_info{hash}.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "config/config.h"
#include "proxy/cluster_limits.h"

namespace hotgate {

enum class RejectReason {
    BadRequest,
    HeaderTimeout,
    BodyTooLarge,
    HeaderTooLarge,
    MaxConnections,
    BodyTimeout,  // no request body byte within timeouts.body_read
    Unsupported,  // a well-formed request hotgate does not implement (501, 505)
    kCount
};
enum class UpstreamPhase { Connect, Response };
// How an HTTP/2 stream ended (docs/http2.md): answered (Finished; Drained when the connection's
// drain had begun), reset by the client, refused (over max_concurrent_streams, or after GOAWAY),
// or cut by hotgate (an error, or still open when the drain ran out).
enum class Http2StreamEnd { Finished, Drained, ResetByClient, Refused, Cut, kCount };
// Why hotgate sent an HTTP/2 connection its final GOAWAY.
enum class Http2GoawayReason { Drain, Idle, RapidReset, ControlFlood, HeaderFlood, ProtocolError, kCount };

class Metrics {
public:
    // A route's gRPC responses by grpc-status, each series made on its first response.
    struct GrpcSeries {
        std::string listener;
        std::string route;
        std::array<std::atomic<prometheus::Counter*>, 17> by_code{};
    };
    struct RouteSeries {
        std::array<prometheus::Counter*, 5> by_status_class{};  // 1xx..5xx
        prometheus::Histogram* duration = nullptr;
        std::shared_ptr<GrpcSeries> grpc;
    };
    struct ClusterSeries {
        prometheus::Counter* connect_errors = nullptr;
        prometheus::Counter* connect_timeouts = nullptr;
        prometheus::Counter* response_timeouts = nullptr;
        std::array<prometheus::Counter*, static_cast<std::size_t>(RetryOn::kCount)> retries{};  // by condition
        prometheus::Counter* retries_over_budget = nullptr;  // retries the budget refused
        prometheus::Counter* hash_key_missing = nullptr;     // requests without the hash key: round robin
        prometheus::Counter* panics = nullptr;               // picks made with every endpoint ejected
        std::array<prometheus::Counter*, kClusterLimitCount> overflows{};  // by ClusterLimit: requests refused 503
    };
    // The series of one config snapshot, by its indexes.
    struct SnapshotSeries {
        std::vector<std::vector<RouteSeries>> routes;  // [listener][route], then one for "none"
        std::vector<ClusterSeries> clusters;           // config.clusters order
    };

    Metrics(const std::string& version, const Config& config);
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // The series for `config`'s listeners, routes and clusters (existing ones are reused: a
    // route that stays keeps counting). Thread-safe; not for the request path.
    std::shared_ptr<const SnapshotSeries> seriesFor(const Config& config);

    // One finished request on `listener` (index into config.listeners), answered by `route`
    // (index into config.routes of the snapshot `series` belongs to; nullopt when none matched
    // or the request was refused first).
    void recordRequest(const SnapshotSeries& series, std::size_t listener, std::optional<std::size_t> route,
                              unsigned status, double seconds);
    void recordRejected(std::size_t listener, RejectReason reason);
    // A gRPC response (grpc-status `code`, below 17) on `listener` by `route`.
    void recordGrpcStatus(const SnapshotSeries& series, std::size_t listener, std::size_t route, std::uint32_t code);
    static void recordUpstreamConnectError(const ClusterSeries& cluster) { cluster.connect_errors->Increment(); }
    static void recordUpstreamTimeout(const ClusterSeries& cluster, UpstreamPhase phase);

    // Config engine: one apply, verification or rollback by its result ("applied", "rejected",
    // "verified", "rolled_back", ...), and the hash of the config served now.
    void recordConfigApply(const std::string& result);
    void setConfigHash(const std::string& hash);
    // A keep-alive connection given to the other version at an upgrade, or taken from it.
    void recordHandedOff(std::size_t listener) { listeners_[listener].handed_off->Increment(); }
    void recordAdopted(std::size_t listener) { listeners_[listener].adopted->Increment(); }
    // A TLS handshake on a client connection: failed, or completed with a full or resumed session.
    void recordTlsHandshake(std::size_t listener, bool ok, bool resumed);
    // The expiry of the certificate served for `name` on `listener` (set at start and each reload).
    void setCertificateExpiry(const std::string& listener, const std::string& name, double unix_seconds);
    prometheus::Gauge& activeConnections(std::size_t listener) { return *listeners_[listener].active; }
    void recordHttp2Stream(std::size_t listener, Http2StreamEnd end) {
        listeners_[listener].h2_streams[static_cast<std::size_t>(end)]->Increment();
    }
    void recordHttp2Goaway(std::size_t listener, Http2GoawayReason reason) {
        listeners_[listener].h2_goaways[static_cast<std::size_t>(reason)]->Increment();
    }

    // The Prometheus text exposition of every family.
    std::string serialize() const;
    // Only this process's hotgate_http_* families: what it serves to the other versions
    // (admin/peer_metrics.h), whose own families cover the rest.
    std::string serializeHttp() const;

    // This version's slot counters in the health profile's shared memory (bpf/health.h
    // health_slot, mmapped by every version): recordRequest/recordRejected also add there.
    struct SharedCounters {
        unsigned long long* requests = nullptr;
        unsigned long long* responses_5xx = nullptr;
        unsigned long long* rejected = nullptr;
    };
    // Call before serving starts; the memory must outlive every record call.
    void shareCounters(SharedCounters counters) { shared_ = counters; }
    // Families computed at scrape time (the health profile's), appended by serialize().
    // Call before the admin server starts.
    void addCollector(std::function<std::vector<prometheus::MetricFamily>()> collector) {
        collectors_.push_back(std::move(collector));
    }

    std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

private:
    struct ListenerSeries {
        prometheus::Gauge* active = nullptr;
        prometheus::Counter* handed_off = nullptr;
        prometheus::Counter* adopted = nullptr;
        std::array<prometheus::Counter*, static_cast<std::size_t>(RejectReason::kCount)> rejected{};
        prometheus::Counter* tls_full = nullptr;  // TLS listeners only
        prometheus::Counter* tls_resumed = nullptr;
        prometheus::Counter* tls_failed = nullptr;
        std::array<prometheus::Counter*, static_cast<std::size_t>(Http2StreamEnd::kCount)> h2_streams{};
        std::array<prometheus::Counter*, static_cast<std::size_t>(Http2GoawayReason::kCount)> h2_goaways{};
    };
    std::shared_ptr<prometheus::Registry> registry_;
    SharedCounters shared_;
    std::vector<std::function<std::vector<prometheus::MetricFamily>()>> collectors_;
    std::vector<ListenerSeries> listeners_;
    prometheus::Family<prometheus::Counter>* requests_ = nullptr;
    prometheus::Family<prometheus::Histogram>* durations_ = nullptr;
    prometheus::Family<prometheus::Counter>* connect_errors_ = nullptr;
    prometheus::Family<prometheus::Counter>* timeouts_ = nullptr;
    prometheus::Family<prometheus::Counter>* retries_ = nullptr;
    prometheus::Family<prometheus::Counter>* retries_over_budget_ = nullptr;
    prometheus::Family<prometheus::Counter>* hash_key_missing_ = nullptr;
    prometheus::Family<prometheus::Counter>* panics_ = nullptr;
    prometheus::Family<prometheus::Counter>* cluster_overflows_ = nullptr;
    prometheus::Family<prometheus::Counter>* grpc_responses_ = nullptr;
    prometheus::Family<prometheus::Counter>* config_applies_ = nullptr;
    prometheus::Family<prometheus::Gauge>* config_info_ = nullptr;
    std::mutex config_mutex_;  // guards config_info_series_ and series creation
    prometheus::Gauge* config_info_series_ = nullptr;
    prometheus::Family<prometheus::Gauge>* tls_expiry_ = nullptr;
};

}  // namespace hotgate

// ServingContext: what every worker and connection of one gateway process shares: the current
// config snapshot (swapped atomically by the config engine) with its router, metrics, the
// version string, and process-wide counters.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "access_log/access_line.h"
#include "access_log/access_log.h"
#include "config/access_fields.h"
#include "config/config.h"
#include "observability/metrics.h"
#include "observability/logging.h"
#include "proxy/cluster_limits.h"
#include "proxy/lb/consistent_hash.h"
#include "proxy/route_protection.h"
#include "proxy/route_stats.h"
#include "proxy/router.h"
#include "proxy/upstream_board.h"
#include "shadow/shadow_tap.h"
#include "telemetry/span_sink.h"
#include "tls/tls_listener.h"

namespace hotgate {

// What happens to keep-alive connections when this version stops serving.
enum class DrainMode {
    None,     // serving normally
    Close,    // SIGTERM: finish requests in progress with Connection: close, close idle ones
    HandOff,  // upgrade commit/rollback: pass each connection at a request boundary to the other version
};

// Takes a client connection at a request boundary (fd, listener name, bytes already read from
// it). Returns false when it could not; the caller then closes the fd. Called on worker threads.
using ConnectionHandOff = std::function<bool(int fd, const std::string& listener, const std::string& buffered)>;

// One access_log sink as a snapshot's requests use it: its file in the process's AccessLog.
struct AccessSink {
    std::size_t file = 0;
    AccessLogFormat format = AccessLogFormat::Json;
    std::vector<AccessField> fields;
    double sample = 1;
};

// Everything a request needs from one config snapshot, built once per snapshot. A request
// loads the current one when its header is complete and keeps it to its last byte, so no
// request ever sees half of a config change.
//
// `generation` is the snapshot's revision: it only grows (a rollback publishes the old content
// under a new, higher one), and a worker never replaces its pools with an older snapshot's.
// The consistent-hash tables are built here, before the one atomic swap that publishes the
// snapshot, never on the request path; a cluster whose endpoints and lb settings did not
// change keeps the previous snapshot's table.
struct ServingSnapshot {
    ServingSnapshot(ConfigSnapshot snapshot, std::uint64_t snapshot_generation, const std::string& build_version,
                    Metrics& metrics, RouteStatsRegistry& stats, ProcessProtection& protection,
                    const AccessLog* access_log, const ServingSnapshot* previous = nullptr)
        : config(std::move(snapshot)),  // the members below read `config`, declared first
          router(config),
          version(build_version + "/" + config->hash),
          generation(snapshot_generation),
          series(metrics.seriesFor(*config)),
          route_protection(protection.forConfig(*config)) {
        for (const auto& cluster : config->clusters) cluster_hash.push_back(hashTable(cluster, previous));
        for (const auto& route : config->routes) {
            std::optional<std::size_t> cluster;
            for (std::size_t c = 0; c < config->clusters.size(); ++c)
                if (!route.cluster.empty() && config->clusters[c].name == route.cluster) cluster = c;
            route_cluster.push_back(cluster);
            route_stats.push_back(stats.get(route.name));
        }
        // The files are open: the config engine (or the start) opened them before publishing.
        for (const auto& sink : config->access_log)
            if (auto file = access_log ? access_log->fileOf(sink.path) : std::nullopt) {
                access_sinks.push_back({*file, sink.format, sink.fields, sink.sample});
                for (const AccessField field : sink.format == AccessLogFormat::Json ? sink.fields : kCombinedFields)
                    access_fields |= accessFieldBit(field);
            }
    }

    ConfigSnapshot config;
    Router router;
    std::string version;       // "<build-version>/<config-hash>": the x-hotgate-version header value
    std::uint64_t generation;  // increases with every snapshot published in this process
    std::shared_ptr<const Metrics::SnapshotSeries> series;
    std::vector<std::optional<std::size_t>> route_cluster;  // per route: index into config->clusters
    std::vector<std::shared_ptr<RouteStats>> route_stats;   // per route
    std::vector<std::shared_ptr<const lb::ConsistentHash>> cluster_hash;  // per cluster; null unless hashing
    std::vector<RouteProtection> route_protection;  // per route: its rate limit and breaker
    std::vector<AccessSink> access_sinks;            // none: requests are not logged
    std::uint32_t access_fields = 0;                 // what the sinks write (accessFieldBit)

private:
    static std::shared_ptr<const lb::ConsistentHash> hashTable(const ClusterConfig& cluster,
                                                               const ServingSnapshot* previous) {
        if (cluster.lb.policy != LbPolicy::RingHash && cluster.lb.policy != LbPolicy::Maglev) return nullptr;
        if (previous)
            for (const auto& table : previous->cluster_hash)
                if (table && table->builtFrom(cluster)) return table;
        auto built = lb::ConsistentHash::build(cluster);
        if (built) return std::move(*built);
        // The loader checks what build() needs; should it still fail, the cluster goes round robin.
        log::error(built.error().message, "; cluster ", cluster.name, " is balanced round robin");
        return nullptr;
    }
};

using ServingSnapshotPtr = std::shared_ptr<const ServingSnapshot>;

struct ServingContext {
    // `access`: the process's access log, with the files of `snapshot` open (null: none).
    ServingContext(ConfigSnapshot snapshot, std::string build_version_label, Metrics& metrics_registry,
                   std::unique_ptr<ProcessProtection> process_protection, AccessLog* access)
        : metrics(metrics_registry),
          build_version(std::move(build_version_label)),
          upstream_board(snapshot->workers),
          protection(std::move(process_protection)),
          access_log(access) {
        publish(std::move(snapshot));
        protection->startSampler([this] { return config(); });
    }
    // The sampler reads the snapshot: it stops before the members it reads go.
    ~ServingContext() { protection.reset(); }

    // The snapshot new requests use. Lock-free on the request path.
    ServingSnapshotPtr current() const { return snapshot_.load(std::memory_order_acquire); }
    ConfigSnapshot config() const { return current()->config; }
    std::string version() const { return current()->version; }

    // Makes `config` the snapshot of every request that starts from now on (all workers at
    // once); requests in progress finish on theirs. Returns the published snapshot.
    ServingSnapshotPtr publish(ConfigSnapshot config) {
        std::lock_guard lock(publish_mutex_);
        const ServingSnapshotPtr previous = snapshot_.load(std::memory_order_acquire);
        auto next = std::make_shared<const ServingSnapshot>(std::move(config), ++generation_, build_version, metrics,
                                                            route_stats, *protection, access_log, previous.get());
        snapshot_.store(next, std::memory_order_release);
        metrics.setConfigHash(next->config->hash);
        return next;
    }

    Metrics& metrics;
    std::string build_version;
    RouteStatsRegistry route_stats;
    UpstreamBoard upstream_board;  // endpoints' ejections across workers (/metrics, /status)
    std::unique_ptr<ProcessProtection> protection;  // rate-limit buckets and breakers, shared across versions
    AccessLog* access_log;  // owned by the gateway; null: none
    ClusterCountsRegistry cluster_counts;  // clusters' static-limit counts by name, across snapshots

    // Per listener (config order): its TLS state, null for a plain listener. Set before workers start.
    std::vector<std::shared_ptr<tls::TlsListener>> tls;

    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::size_t> in_flight_requests{0};
    std::atomic<DrainMode> drain_mode{DrainMode::None};
    std::atomic<std::uint64_t> connections_handed_off{0};
    std::atomic<std::uint64_t> connections_adopted{0};

    // Set before drain_mode becomes HandOff; read only after that.
    ConnectionHandOff hand_off;

    // Where sampled request spans go; null: no export. Set before workers start.
    telemetry::SpanSink* spans = nullptr;

    // Copies of live requests for `gwctl verify`, while it samples (shadow/shadow_tap.h).
    shadow::ShadowTap shadow_tap;

    bool draining() const { return drain_mode.load(std::memory_order_relaxed) != DrainMode::None; }

private:
    std::mutex publish_mutex_;
    std::uint64_t generation_ = 0;
    std::atomic<ServingSnapshotPtr> snapshot_;
};

}  // namespace hotgate

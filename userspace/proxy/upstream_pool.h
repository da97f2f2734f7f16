// UpstreamPool: one cluster's endpoints, in one config snapshot, as seen by one worker: the
// choice of an endpoint by the cluster's lb policy (docs/routing.md), passive health (an
// endpoint that refused or timed out a connect is skipped for a second; outlier detection
// ejects one that keeps failing), and a pool of idle keep-alive connections per endpoint. The
// endpoint state (idle connections, health, requests in flight, ejections) belongs to the
// worker and outlives snapshots, so a config change keeps it for the endpoints that stay. An
// endpoint a new snapshot no longer has is retired: its idle connections close, requests in
// flight on it finish and their connections are then closed instead of pooled. A new
// connection is counted against the cluster's static limits (cluster_limits.h): at
// max_connections or max_pending_requests, acquire() answers 503 instead of connecting. Used
// only on the worker's thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "config/config.h"
#include "observability/metrics.h"
#include "proxy/asio.h"
#include "proxy/cluster_limits.h"
#include "proxy/lb/consistent_hash.h"
#include "proxy/outlier_state.h"
#include "proxy/retry_policy.h"
#include "proxy/tcp_or_tls_stream.h"
#include "proxy/upstream_board.h"

namespace hotgate {

struct UpstreamConnection;
namespace h2 {
class UpstreamSession;
}

// One endpoint of one cluster on one worker.
struct UpstreamEndpoint {
    using Clock = std::chrono::steady_clock;

    tcp::endpoint address;
    std::string label;  // "127.0.0.1:9000", for errors
    std::size_t max_idle = 0;
    std::vector<std::unique_ptr<UpstreamConnection>> idle;
    Clock::time_point down_until{};
    bool retired = false;  // no snapshot from now on uses it: do not pool connections to it
    unsigned in_flight = 0;  // requests on it now, counted for least_request only (EndpointLoad)
    OutlierState outlier;
    Clock::time_point joined{};  // when a snapshot after the worker's first added it (slow start); else epoch
    std::shared_ptr<EndpointReport> report;  // what /metrics and /status show of it
    // h2 clusters (h2/upstream_session.h): the multiplexed connections, those being opened,
    // and the requests waiting for a free stream (the first is woken when one frees).
    std::vector<std::shared_ptr<h2::UpstreamSession>> h2;
    unsigned h2_connecting = 0;
    std::vector<asio::steady_timer*> h2_waiters;
};

// Counts a request in flight on an endpoint for as long as it lives.
class EndpointLoad {
public:
    EndpointLoad() = default;
    explicit EndpointLoad(std::shared_ptr<UpstreamEndpoint> endpoint) : endpoint_(std::move(endpoint)) {
        ++endpoint_->in_flight;
    }
    EndpointLoad(EndpointLoad&& other) noexcept : endpoint_(std::move(other.endpoint_)) {}
    EndpointLoad& operator=(EndpointLoad&& other) noexcept {
        if (this != &other) {
            release();
            endpoint_ = std::move(other.endpoint_);
        }
        return *this;
    }
    EndpointLoad(const EndpointLoad&) = delete;
    EndpointLoad& operator=(const EndpointLoad&) = delete;
    ~EndpointLoad() { release(); }

private:
    void release() {
        if (endpoint_) --endpoint_->in_flight;
        endpoint_.reset();
    }
    std::shared_ptr<UpstreamEndpoint> endpoint_;
};

struct UpstreamConnection {
    explicit UpstreamConnection(const asio::any_io_executor& executor) : stream(executor) {}

    ClusterSlot counted;    // its unit of the cluster's connection count; first: given back after the close
    TcpOrTlsStream stream;  // TLS when the cluster says so (handshake done by acquire())
    beast::flat_buffer buffer;  // bytes read from the upstream and not yet parsed
    std::shared_ptr<UpstreamEndpoint> endpoint;
    bool reused = false;        // came from the idle pool (may have been closed by the upstream)
};

// What acquire() gives: a connection, or the status to answer with and why.
struct UpstreamAcquisition {
    std::unique_ptr<UpstreamConnection> connection;
    std::optional<TryFailure> failure;  // the connect failed (nullopt with no connection: no endpoint to try)
    unsigned error_status = 0;  // 502 refused or failed, 503 no healthy endpoint, 504 connect timeout
    std::string error;
    std::optional<std::size_t> endpoint;  // the endpoint tried (index in the cluster's endpoints)
    std::optional<ClusterLimit> overflow;  // 503 because the cluster is at this static limit (nothing tried)
    std::shared_ptr<h2::UpstreamSession> session;  // acquireHttp2(): the connection the stream goes on
};

// What a request brings to the choice of its endpoint.
struct EndpointChoice {
    std::optional<std::uint64_t> key_hash;  // hashing policies: the request key's hash; none: round robin
    std::vector<std::size_t> tried;         // endpoints its earlier tries used: avoided while others can serve
};

class UpstreamPool {
public:
    struct Settings {
        const ClusterConfig* cluster = nullptr;  // read while the constructor runs only
        std::shared_ptr<const lb::ConsistentHash> hash;  // ring_hash and maglev
        std::shared_ptr<RetryBudget> budget;   // the worker's, for this cluster, across snapshots
        unsigned worker = 0;                   // index, for the board
        std::shared_ptr<asio::ssl::context> tls;  // the cluster's client TLS context; null: plain TCP
    };

    // `endpoints` are in cluster->endpoints order.
    UpstreamPool(asio::any_io_executor executor, const Settings& settings,
                 std::vector<std::shared_ptr<UpstreamEndpoint>> endpoints, const Metrics::ClusterSeries& series);
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    // An idle pooled connection, or a new one, to the endpoint the policy picks for `choice`
    // (one endpoint: retries are the caller's). `fresh_only` skips the idle pool (WebSocket
    // upgrades). A failed connect marks the endpoint down for a second and counts for
    // outlier detection. A new connection is counted against max_connections for its life and
    // against max_pending_requests until it is connected; at either limit there is no connect
    // and the acquisition says `overflow` (503). Needs bindCounts() first.
    awaitable<UpstreamAcquisition> acquire(const EndpointChoice& choice, std::chrono::milliseconds connect_timeout,
                                           bool fresh_only = false);

    // h2 clusters: an HTTP/2 connection with a free stream to the endpoint the policy picks
    // (fewest open streams first), a new one when none has a free stream and the endpoint has
    // fewer than http2.connections_per_endpoint, else the first to free a stream within
    // `connect_timeout` (503 after it). Connect failures and limits as acquire(). A new
    // connection ends when the endpoint takes none of a write for `write_timeout`.
    awaitable<UpstreamAcquisition> acquireHttp2(const EndpointChoice& choice,
                                                std::chrono::milliseconds connect_timeout,
                                                std::chrono::milliseconds write_timeout);
    ClusterProtocol protocol() const { return protocol_; }
    bool upstreamTls() const { return tls_ != nullptr; }

    // Returns a connection whose last response was complete and keep-alive; dropped (closed)
    // when its endpoint is retired or already has max_idle_per_endpoint idle connections.
    static void release(std::unique_ptr<UpstreamConnection> connection);

    // How a try on `endpoint` ended: outlier detection's input (a no-op without it).
    void recordOutcome(UpstreamEndpoint& endpoint, TryOutcome outcome);

    // Binds the pool to its cluster's process-wide counts; a no-op once bound (the lookup
    // locks, so it runs once per pool, on its first request).
    void bindCounts(ClusterCountsRegistry& registry) {
        if (!counts_) [[unlikely]]
            counts_ = &registry.counts(cluster_name_);
    }
    ClusterCounts& counts() { return *counts_; }  // after bindCounts()
    const ClusterLimitsConfig& limits() const { return limits_; }
    // The 503 text of a request refused by `limit`: "cluster pay is at max_requests (200)".
    std::string overflowText(ClusterLimit limit) const;

    const std::string& clusterName() const { return cluster_name_; }
    LbPolicy policy() const { return policy_; }
    const HashKeySource& hashKey() const { return hash_key_; }
    const RetryConfig& retries() const { return retries_; }
    RetryBudget& budget() { return *budget_; }
    const Metrics::ClusterSeries& series() const { return series_; }
    // A uniform random number in [0, 1), for backoff jitter.
    double random() { return std::uniform_real_distribution<double>(0.0, 1.0)(random_); }
    void recordTimeout(UpstreamPhase phase) const { Metrics::recordUpstreamTimeout(series_, phase); }

private:
    using Clock = std::chrono::steady_clock;

    std::optional<std::size_t> pickEndpoint(const EndpointChoice& choice);
    std::optional<std::size_t> pickByHash(std::uint64_t key_hash, const std::vector<bool>& candidate) const;
    std::optional<std::size_t> pickRoundRobin(const std::vector<bool>& candidate, Clock::time_point now);
    // The next endpoint in turn that `usable` accepts (round robin with equal weights).
    template <typename Usable>
    std::optional<std::size_t> nextInTurn(Usable usable) {
        for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
            const std::size_t index = next_++ % endpoints_.size();
            if (usable(index)) return index;
        }
        return std::nullopt;
    }
    std::optional<std::size_t> pickLeastRequest(const std::vector<bool>& candidate, Clock::time_point now);
    // weight x the slow-start ramp (at least 10% of the weight while it ramps).
    double effectiveWeight(std::size_t index, Clock::time_point now) const;
    static std::unique_ptr<UpstreamConnection> takeIdle(UpstreamEndpoint& endpoint);
    // A new connection to endpoint `index` (TLS handshake included), or why there is none.
    awaitable<UpstreamAcquisition> connect(std::size_t index, std::chrono::milliseconds connect_timeout);
    // The acquisition of a request no endpoint can take (503).
    UpstreamAcquisition noHealthyEndpoint() const;
    // The acquisition of a request refused by `limit`.
    UpstreamAcquisition overflowed(ClusterLimit limit) const;

    asio::any_io_executor executor_;
    std::string cluster_name_;
    LbPolicy policy_;
    HashKeySource hash_key_;
    std::vector<unsigned> weights_;  // per endpoint
    bool uniform_weights_;
    std::optional<OutlierDetectionConfig> outlier_;
    std::chrono::milliseconds slow_start_;
    RetryConfig retries_;
    std::shared_ptr<const lb::ConsistentHash> hash_;
    std::shared_ptr<RetryBudget> budget_;
    unsigned worker_;
    std::vector<std::shared_ptr<UpstreamEndpoint>> endpoints_;
    const Metrics::ClusterSeries& series_;
    std::shared_ptr<asio::ssl::context> tls_;
    std::string tls_server_name_;
    ClusterLimitsConfig limits_;
    ClusterProtocol protocol_;
    ClusterHttp2Config http2_;
    ClusterCounts* counts_ = nullptr;  // ClusterCountsRegistry's, which outlives every pool
    std::size_t next_ = 0;                // round robin with equal weights
    std::vector<double> current_weight_;  // smooth weighted round robin otherwise
    std::minstd_rand random_;
};

// One worker's pools for one config snapshot: per cluster index of that snapshot. A request
// holds the set of its snapshot to its end.
struct UpstreamPools {
    std::uint64_t generation = 0;
    std::shared_ptr<const Metrics::SnapshotSeries> series;  // keeps the pools' series alive
    std::vector<std::unique_ptr<UpstreamPool>> clusters;
};

}  // namespace hotgate

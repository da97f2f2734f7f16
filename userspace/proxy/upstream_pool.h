// UpstreamPool: one cluster's endpoints, in one config snapshot, as seen by one worker:
// round-robin choice, passive health (an endpoint that refused or timed out a connect is
// skipped for a second), and a pool of idle keep-alive connections per endpoint. The endpoint
// state (idle connections, health) belongs to the worker and outlives snapshots, so a config
// change keeps the pooled connections of the endpoints that stay. An endpoint a new snapshot no
// longer has is retired: its idle connections close, requests in flight on it finish and their
// connections are then closed instead of pooled. Used only on the worker's thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "observability/metrics.h"
#include "proxy/asio.h"
#include "proxy/tcp_or_tls_stream.h"

namespace hotgate {

struct UpstreamConnection;

// One endpoint of one cluster on one worker.
struct UpstreamEndpoint {
    tcp::endpoint address;
    std::string label;  // "127.0.0.1:9000", for errors
    std::size_t max_idle = 0;
    std::vector<std::unique_ptr<UpstreamConnection>> idle;
    std::chrono::steady_clock::time_point down_until{};
    bool retired = false;  // no snapshot from now on uses it: do not pool connections to it
};

struct UpstreamConnection {
    explicit UpstreamConnection(const asio::any_io_executor& executor) : stream(executor) {}

    TcpOrTlsStream stream;  // TLS when the cluster says so (handshake done by acquire())
    beast::flat_buffer buffer;  // bytes read from the upstream and not yet parsed
    std::shared_ptr<UpstreamEndpoint> endpoint;
    bool reused = false;        // came from the idle pool (may have been closed by the upstream)
};

// What acquire() gives: a connection, or the status to answer with and why.
struct UpstreamAcquisition {
    std::unique_ptr<UpstreamConnection> connection;
    unsigned error_status = 0;  // 502 refused, 503 no healthy endpoint, 504 connect timeout
    std::string error;
};

class UpstreamPool {
public:
    // `tls`: the cluster's client TLS context and server name (null: plain TCP).
    UpstreamPool(asio::any_io_executor executor, std::string cluster_name,
                 std::vector<std::shared_ptr<UpstreamEndpoint>> endpoints, const Metrics::ClusterSeries& series,
                 std::shared_ptr<asio::ssl::context> tls = nullptr, std::string tls_server_name = {});
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    // An idle pooled connection, or a new one, to the next healthy endpoint; tries each endpoint
    // at most once. `fresh_only` skips the idle pool (WebSocket upgrades, retries).
    awaitable<UpstreamAcquisition> acquire(std::chrono::milliseconds connect_timeout, bool fresh_only = false);

    // Returns a connection whose last response was complete and keep-alive; dropped (closed)
    // when its endpoint is retired or already has max_idle_per_endpoint idle connections.
    static void release(std::unique_ptr<UpstreamConnection> connection);

    const std::string& clusterName() const { return cluster_name_; }
    void recordTimeout(UpstreamPhase phase) const { Metrics::recordUpstreamTimeout(series_, phase); }

private:
    std::optional<std::size_t> pickEndpoint();
    static std::unique_ptr<UpstreamConnection> takeIdle(UpstreamEndpoint& endpoint);

    asio::any_io_executor executor_;
    std::string cluster_name_;
    std::vector<std::shared_ptr<UpstreamEndpoint>> endpoints_;
    const Metrics::ClusterSeries& series_;
    std::shared_ptr<asio::ssl::context> tls_;
    std::string tls_server_name_;
    std::size_t next_ = 0;
};

// One worker's pools for one config snapshot: per cluster index of that snapshot. A request
// holds the set of its snapshot to its end.
struct UpstreamPools {
    std::uint64_t generation = 0;
    std::shared_ptr<const Metrics::SnapshotSeries> series;  // keeps the pools' series alive
    std::vector<std::unique_ptr<UpstreamPool>> clusters;
};

}  // namespace hotgate

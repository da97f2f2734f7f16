// UpstreamPool: one cluster's endpoints as seen by one worker: round-robin choice, passive
// health (an endpoint that refused or timed out a connect is skipped for a second), and a pool
// of idle keep-alive connections per endpoint. Owned by a worker; used only on its thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "observability/metrics.h"
#include "proxy/asio.h"

namespace hotgate {

struct UpstreamConnection {
    explicit UpstreamConnection(const asio::any_io_executor& executor) : socket(executor) {}

    tcp::socket socket;
    beast::flat_buffer buffer;  // bytes read from the upstream and not yet parsed
    std::size_t endpoint = 0;   // index into the cluster's endpoints
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
    UpstreamPool(asio::any_io_executor executor, const ClusterConfig& cluster, std::size_t cluster_index,
                 Metrics& metrics);
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    // An idle pooled connection, or a new one, to the next healthy endpoint; tries each endpoint
    // at most once. `fresh_only` skips the idle pool (WebSocket upgrades, retries).
    awaitable<UpstreamAcquisition> acquire(std::chrono::milliseconds connect_timeout, bool fresh_only = false);

    // Returns a connection whose last response was complete and keep-alive; dropped (closed)
    // when the endpoint already has max_idle_per_endpoint idle connections.
    void release(std::unique_ptr<UpstreamConnection> connection);

    void closeIdle();
    const std::string& clusterName() const { return cluster_name_; }
    std::size_t clusterIndex() const { return cluster_index_; }

private:
    struct Endpoint {
        tcp::endpoint address;
        std::string label;  // "127.0.0.1:9000", for errors
        std::vector<std::unique_ptr<UpstreamConnection>> idle;
        std::chrono::steady_clock::time_point down_until{};
    };

    std::optional<std::size_t> pickEndpoint();
    std::unique_ptr<UpstreamConnection> takeIdle(Endpoint& endpoint);

    asio::any_io_executor executor_;
    std::string cluster_name_;
    std::size_t cluster_index_;
    std::size_t max_idle_;
    Metrics& metrics_;
    std::vector<Endpoint> endpoints_;
    std::size_t next_ = 0;
};

}  // namespace hotgate

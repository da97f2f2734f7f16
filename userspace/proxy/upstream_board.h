// UpstreamBoard: what the process says about its endpoints across workers, for /metrics
// (hotgate_upstream_ejected, hotgate_upstream_ejections_total) and /status (gwctl status).
// Outlier state lives in each worker (UpstreamEndpoint); a worker writes here only when it
// ejects an endpoint, so the request path never touches it otherwise.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "config/config.h"

namespace hotgate {

// One endpoint of one cluster, as every worker reports it.
class EndpointReport {
public:
    explicit EndpointReport(unsigned workers)
        : ejected_until_(std::make_unique<std::atomic<std::int64_t>[]>(workers)), workers_(workers) {}

    // Worker `worker` ejected the endpoint until `until`.
    void ejected(unsigned worker, std::chrono::steady_clock::time_point until) {
        ejected_until_[worker % workers_].store(until.time_since_epoch().count(), std::memory_order_relaxed);
        ejections_.fetch_add(1, std::memory_order_relaxed);
    }
    // Workers whose ejection of the endpoint lasts past `now`.
    unsigned ejectedWorkers(std::chrono::steady_clock::time_point now) const;
    std::uint64_t ejections() const { return ejections_.load(std::memory_order_relaxed); }

private:
    std::unique_ptr<std::atomic<std::int64_t>[]> ejected_until_;  // steady_clock ticks, per worker
    unsigned workers_;
    std::atomic<std::uint64_t> ejections_{0};
};

class UpstreamBoard {
public:
    explicit UpstreamBoard(unsigned workers) : workers_(workers == 0 ? 1 : workers) {}

    // The report of `endpoint` in `cluster`, made on first use. Thread-safe; not for the request path.
    std::shared_ptr<EndpointReport> report(const std::string& cluster, const SocketAddress& endpoint);

    struct Row {
        std::string cluster;
        std::string endpoint;  // "127.0.0.1:9000"
        unsigned weight = 1;
        unsigned ejected_workers = 0;
        std::uint64_t ejections = 0;
    };
    // One row per endpoint of `config`'s clusters, in config order.
    std::vector<Row> rows(const Config& config) const;
    // hotgate_upstream_ejected (workers ejecting the endpoint now) and
    // hotgate_upstream_ejections_total, per endpoint of `config`, labelled with `version`.
    std::vector<prometheus::MetricFamily> metricFamilies(const Config& config, const std::string& version) const;

private:
    unsigned workers_;
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<EndpointReport>> reports_;
};

}  // namespace hotgate

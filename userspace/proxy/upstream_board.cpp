#include "proxy/upstream_board.h"

namespace hotgate {

unsigned EndpointReport::ejectedWorkers(std::chrono::steady_clock::time_point now) const {
    unsigned ejected = 0;
    for (unsigned worker = 0; worker < workers_; ++worker)
        if (ejected_until_[worker].load(std::memory_order_relaxed) > now.time_since_epoch().count()) ++ejected;
    return ejected;
}

std::shared_ptr<EndpointReport> UpstreamBoard::report(const std::string& cluster, const SocketAddress& endpoint) {
    std::lock_guard lock(mutex_);
    auto& report = reports_[{cluster, endpoint.toString()}];
    if (!report) report = std::make_shared<EndpointReport>(workers_);
    return report;
}

std::vector<UpstreamBoard::Row> UpstreamBoard::rows(const Config& config) const {
    const auto now = std::chrono::steady_clock::now();
    std::vector<Row> rows;
    std::lock_guard lock(mutex_);
    for (const auto& cluster : config.clusters)
        for (const auto& endpoint : cluster.endpoints) {
            Row row{cluster.name, endpoint.address.toString(), endpoint.weight, 0, 0};
            if (auto found = reports_.find({row.cluster, row.endpoint}); found != reports_.end()) {
                row.ejected_workers = found->second->ejectedWorkers(now);
                row.ejections = found->second->ejections();
            }
            rows.push_back(std::move(row));
        }
    return rows;
}

std::vector<prometheus::MetricFamily> UpstreamBoard::metricFamilies(const Config& config,
                                                                   const std::string& version) const {
    using prometheus::MetricType;
    prometheus::MetricFamily ejected{"hotgate_upstream_ejected",
                                     "Workers that have the endpoint ejected by outlier detection now",
                                     MetricType::Gauge,
                                     {}};
    prometheus::MetricFamily ejections{"hotgate_upstream_ejections_total",
                                       "Times outlier detection ejected the endpoint, all workers",
                                       MetricType::Counter,
                                       {}};
    for (const auto& row : rows(config)) {
        prometheus::ClientMetric metric;
        metric.label = {{"cluster", row.cluster}, {"endpoint", row.endpoint}, {"version", version}};
        metric.gauge.value = row.ejected_workers;
        ejected.metric.push_back(metric);
        metric.gauge = {};
        metric.counter.value = static_cast<double>(row.ejections);
        ejections.metric.push_back(std::move(metric));
    }
    return {std::move(ejected), std::move(ejections)};
}

}  // namespace hotgate

// Metrics: the gateway's Prometheus families, every series labelled with this process's version
// (`<build>/<config-hash>`), so two versions side by side during a cutover are told apart.
// Series are created up front for every listener, route and cluster of the config, so the
// request path only increments counters (no label lookups, no locks but the histogram's own).
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "config/config.h"

namespace hotgate {

enum class RejectReason { BadRequest, HeaderTimeout, BodyTooLarge, HeaderTooLarge, MaxConnections, kCount };
enum class UpstreamPhase { Connect, Response };

class Metrics {
public:
    Metrics(const std::string& version, const Config& config);
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // One finished request on `listener` (index into config.listeners), answered by `route`
    // (index into config.routes; nullopt when none matched or the request was refused first).
    void recordRequest(std::size_t listener, std::optional<std::size_t> route, unsigned status, double seconds);
    void recordRejected(std::size_t listener, RejectReason reason);
    void recordUpstreamConnectError(std::size_t cluster);
    void recordUpstreamTimeout(std::size_t cluster, UpstreamPhase phase);
    // A keep-alive connection given to the other version at an upgrade, or taken from it.
    void recordHandedOff(std::size_t listener) { listeners_[listener].handed_off->Increment(); }
    void recordAdopted(std::size_t listener) { listeners_[listener].adopted->Increment(); }
    prometheus::Gauge& activeConnections(std::size_t listener) { return *listeners_[listener].active; }

    // The Prometheus text exposition of every family.
    std::string serialize() const;

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
    struct RouteSeries {
        std::array<prometheus::Counter*, 5> by_status_class{};  // 1xx..5xx
        prometheus::Histogram* duration = nullptr;
    };
    struct ListenerSeries {
        std::vector<RouteSeries> routes;  // config.routes order, then one for "none"
        prometheus::Gauge* active = nullptr;
        prometheus::Counter* handed_off = nullptr;
        prometheus::Counter* adopted = nullptr;
        std::array<prometheus::Counter*, static_cast<std::size_t>(RejectReason::kCount)> rejected{};
    };
    struct ClusterSeries {
        prometheus::Counter* connect_errors = nullptr;
        prometheus::Counter* connect_timeouts = nullptr;
        prometheus::Counter* response_timeouts = nullptr;
    };

    std::shared_ptr<prometheus::Registry> registry_;
    SharedCounters shared_;
    std::vector<std::function<std::vector<prometheus::MetricFamily>()>> collectors_;
    std::vector<ListenerSeries> listeners_;
    std::vector<ClusterSeries> clusters_;
};

}  // namespace hotgate

// Metrics: the gateway's Prometheus families, every series labelled with this process's version
// (`<build>/<config-hash>`), so two versions side by side during a cutover are told apart.
// Series are created up front for every listener, route and cluster of the config, so the
// request path only increments counters (no label lookups, no locks but the histogram's own).
#pragma once

#include <array>
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
    // A TLS handshake on a client connection: failed, or completed with a full or resumed session.
    void recordTlsHandshake(std::size_t listener, bool ok, bool resumed);
    // The expiry of the certificate served for `name` on `listener` (set at start and each reload).
    void setCertificateExpiry(const std::string& listener, const std::string& name, double unix_seconds);
    prometheus::Gauge& activeConnections(std::size_t listener) { return *listeners_[listener].active; }

    // The Prometheus text exposition of every family.
    std::string serialize() const;

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
        prometheus::Counter* tls_full = nullptr;  // TLS listeners only
        prometheus::Counter* tls_resumed = nullptr;
        prometheus::Counter* tls_failed = nullptr;
    };
    struct ClusterSeries {
        prometheus::Counter* connect_errors = nullptr;
        prometheus::Counter* connect_timeouts = nullptr;
        prometheus::Counter* response_timeouts = nullptr;
    };

    std::shared_ptr<prometheus::Registry> registry_;
    std::vector<ListenerSeries> listeners_;
    std::vector<ClusterSeries> clusters_;
    prometheus::Family<prometheus::Gauge>* tls_expiry_ = nullptr;
};

}  // namespace hotgate

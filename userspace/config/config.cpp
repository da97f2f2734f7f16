#include "config/config.h"

#include "config/schema/schema.h"

namespace hotgate {

std::string SocketAddress::toString() const {
    if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
    return ip + ":" + std::to_string(port);
}

bool RetryConfig::allows(RetryOn reason) const {
    for (const RetryOn allowed : on)
        if (allowed == reason) return true;
    return false;
}

CircuitBreakerConfig CircuitBreakerOverride::over(const CircuitBreakerConfig& top) const {
    CircuitBreakerConfig out = top;
    if (enabled) out.enabled = *enabled;
    if (window) out.window = *window;
    if (sample_interval) out.sample_interval = *sample_interval;
    if (qps_ratio) out.qps_ratio = *qps_ratio;
    if (p95_delta) out.p95_delta = *p95_delta;
    if (shed_percent) out.shed_percent = *shed_percent;
    if (min_requests) out.min_requests = *min_requests;
    return out;
}

const ClusterConfig* Config::findCluster(const std::string& name) const {
    for (const auto& cluster : clusters)
        if (cluster.name == name) return &cluster;
    return nullptr;
}

const RouteConfig* Config::findRoute(const std::string& name) const {
    for (const auto& route : routes)
        if (route.name == name) return &route;
    return nullptr;
}

std::string canonicalText(const Config& config) { return schema::canonicalForm(config).text(); }

}  // namespace hotgate

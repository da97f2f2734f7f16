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

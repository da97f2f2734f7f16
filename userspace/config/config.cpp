#include "config/config.h"

#include <algorithm>
#include <sstream>

namespace hotgate {
namespace {

template <typename T>
std::vector<const T*> sortedByName(const std::vector<T>& items) {
    std::vector<const T*> sorted;
    for (const auto& item : items) sorted.push_back(&item);
    std::sort(sorted.begin(), sorted.end(), [](const T* a, const T* b) { return a->name < b->name; });
    return sorted;
}

}  // namespace

std::string SocketAddress::toString() const {
    if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
    return ip + ":" + std::to_string(port);
}

const ClusterConfig* Config::findCluster(const std::string& name) const {
    for (const auto& cluster : clusters)
        if (cluster.name == name) return &cluster;
    return nullptr;
}

std::string canonicalText(const Config& c) {
    std::ostringstream out;
    out << "workers = " << c.workers << "\n";
    out << "admin.address = " << c.admin.address.toString() << "\n";
    out << "dataplane.steering = " << (c.dataplane.steering ? "auto" : "off") << "\n";
    out << "dataplane.bpffs_root = " << c.dataplane.bpffs_root << "\n";
    auto interfaces = c.dataplane.xdp_interfaces;  // a set: order means nothing
    std::sort(interfaces.begin(), interfaces.end());
    for (const auto& name : interfaces) out << "dataplane.xdp_interfaces += " << name << "\n";
    out << "health.enabled = " << (c.health.enabled ? "true" : "false") << "\n";
    out << "health.spike_threshold = " << c.health.spike_threshold.count() << "us\n";
    out << "health.spike_p99_factor = " << c.health.spike_p99_factor << "\n";
    out << "health.spike_floor = " << c.health.spike_floor.count() << "us\n";
    out << "health.window = " << c.health.window.count() << "ms\n";
    // Listeners and clusters are named sets: their order in the file means nothing.
    for (const auto* l : sortedByName(c.listeners)) out << "listeners[" << l->name << "].address = " << l->address.toString() << "\n";
    out << "limits.max_header_bytes = " << c.limits.max_header_bytes << "\n";
    out << "limits.max_body_bytes = " << c.limits.max_body_bytes << "\n";
    out << "limits.max_connections = " << c.limits.max_connections << "\n";
    out << "timeouts.header_read = " << c.timeouts.header_read.count() << "ms\n";
    out << "timeouts.idle = " << c.timeouts.idle.count() << "ms\n";
    out << "timeouts.upstream_connect = " << c.timeouts.upstream_connect.count() << "ms\n";
    out << "timeouts.upstream_response = " << c.timeouts.upstream_response.count() << "ms\n";
    out << "timeouts.drain = " << c.timeouts.drain.count() << "ms\n";
    // Routes keep their order: it decides which one matches.
    for (std::size_t i = 0; i < c.routes.size(); ++i) {
        const auto& r = c.routes[i];
        const std::string p = "routes[" + r.name + "]";
        out << p << ".order = " << i << "\n";
        out << p << ".match.host = " << r.match.host << "\n";
        out << p << ".match.path_prefix = " << r.match.path_prefix << "\n";
        out << p << ".match.path = " << r.match.path << "\n";
        if (r.direct_response) {
            out << p << ".direct_response.status = " << r.direct_response->status << "\n";
            out << p << ".direct_response.body = " << r.direct_response->body.size() << ":" << r.direct_response->body << "\n";
        } else {
            out << p << ".cluster = " << r.cluster << "\n";
        }
    }
    for (const auto* cluster : sortedByName(c.clusters)) {
        const auto& cl = *cluster;
        const std::string p = "clusters[" + cl.name + "]";
        // Endpoint order matters to round-robin only in phase, not in meaning; keep the file's order
        // until the config engine defines endpoints as a set.
        for (const auto& e : cl.endpoints) out << p << ".endpoints += " << e.toString() << "\n";
        out << p << ".max_idle_per_endpoint = " << cl.max_idle_per_endpoint << "\n";
    }
    return out.str();
}

}  // namespace hotgate

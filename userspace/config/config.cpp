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

// Free text (bodies, file names) as one double-quoted line, whatever bytes it holds: quote,
// backslash, control and non-ASCII bytes escaped (as \xNN: a body need not be UTF-8), so two
// different texts never give the same line.
std::string quoted(const std::string& text) {
    static const char* kHex = "0123456789abcdef";
    std::string out = "\"";
    for (const unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
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

const RouteConfig* Config::findRoute(const std::string& name) const {
    for (const auto& route : routes)
        if (route.name == name) return &route;
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
    // Listeners and clusters are named sets: their order in the file means nothing.
    for (const auto* l : sortedByName(c.listeners)) {
        const std::string p = "listeners[" + l->name + "]";
        out << p << ".address = " << l->address.toString() << "\n";
        for (const auto& range : l->trusted_proxies) out << p << ".trusted_proxies += " << range.toString() << "\n";
        if (!l->tls) continue;
        // Certificate order matters: the first is the default.
        for (std::size_t i = 0; i < l->tls->certificates.size(); ++i) {
            const auto& cert = l->tls->certificates[i];
            const std::string c = p + ".tls.certificates[" + std::to_string(i) + "]";
            out << c << ".certificate_file = " << quoted(cert.certificate_file) << "\n";
            out << c << ".key_file = " << quoted(cert.key_file) << "\n";
            for (const auto& name : cert.sni) out << c << ".sni += " << name << "\n";
        }
    }
    out << "tls.session_ticket_keys = " << quoted(c.tls.session_ticket_keys) << "\n";
    out << "limits.max_header_bytes = " << c.limits.max_header_bytes << "\n";
    out << "limits.max_body_bytes = " << c.limits.max_body_bytes << "\n";
    out << "limits.max_connections = " << c.limits.max_connections << "\n";
    out << "timeouts.header_read = " << c.timeouts.header_read.count() << "ms\n";
    // Keys added after the first release are written only when not at their default, so a
    // file's hash stays the same across the binaries that added them.
    const Timeouts defaults;
    if (c.timeouts.body_read != defaults.body_read)
        out << "timeouts.body_read = " << c.timeouts.body_read.count() << "ms\n";
    if (c.timeouts.send != defaults.send) out << "timeouts.send = " << c.timeouts.send.count() << "ms\n";
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
            out << p << ".direct_response.body = " << quoted(r.direct_response->body) << "\n";
        } else {
            out << p << ".cluster = " << r.cluster << "\n";
        }
    }
    for (const auto* cluster : sortedByName(c.clusters)) {
        const auto& cl = *cluster;
        const std::string p = "clusters[" + cl.name + "]";
        // Endpoints are a set (the loader sorts them): their order is only round-robin phase.
        for (const auto& e : cl.endpoints) out << p << ".endpoints += " << e.toString() << "\n";
        out << p << ".max_idle_per_endpoint = " << cl.max_idle_per_endpoint << "\n";
        if (cl.tls) {
            out << p << ".tls.ca_file = " << quoted(cl.tls->ca_file) << "\n";
            out << p << ".tls.sni = " << cl.tls->sni << "\n";
            out << p << ".tls.verify = " << (cl.tls->verify ? "true" : "false") << "\n";
        }
    }
    out << "health.enabled = " << (c.health.enabled ? "true" : "false") << "\n";
    out << "health.spike_threshold = " << c.health.spike_threshold.count() << "us\n";
    out << "health.spike_p99_factor = " << c.health.spike_p99_factor << "\n";
    out << "health.spike_floor = " << c.health.spike_floor.count() << "us\n";
    out << "health.window = " << c.health.window.count() << "ms\n";
    const auto& e = c.config_engine;
    out << "config_engine.verification_window = " << e.verification_window.count() << "ms\n";
    out << "config_engine.max_5xx_ratio_increase = " << e.max_5xx_ratio_increase << "\n";
    out << "config_engine.p99_factor = " << e.p99_factor << "\n";
    out << "config_engine.p99_floor = " << e.p99_floor.count() << "ms\n";
    out << "config_engine.min_requests = " << e.min_requests << "\n";
    out << "config_engine.history = " << e.history << "\n";
    return out.str();
}

}  // namespace hotgate

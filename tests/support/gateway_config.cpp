#include "support/gateway_config.h"

#include <sstream>

namespace hotgate::test {

namespace {

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: out += c;
        }
    }
    return out + "\"";
}

}  // namespace

std::string GatewayConfig::toYaml() const {
    std::ostringstream y;
    y << "# written by hotgate integration tests\n";
    y << "workers: " << workers << "\n";
    y << "admin:\n  address: 127.0.0.1:" << admin_port << "\n";
    if (!bpffs_root.empty() || !steering.empty()) {
        y << "dataplane:\n";
        if (!bpffs_root.empty()) y << "  bpffs_root: " << quoted(bpffs_root) << "\n";
        if (!steering.empty()) y << "  steering: " << steering << "\n";
    }
    y << "listeners:\n  - name: " << listener_name << "\n    address: " << listen_address << ":" << listen_port << "\n";
    if (!trusted_proxies.empty()) {
        y << "    trusted_proxies: [";
        for (std::size_t i = 0; i < trusted_proxies.size(); ++i) y << (i ? ", " : "") << quoted(trusted_proxies[i]);
        y << "]\n";
    }
    y << listener_extra;
    if (!tls_certificates.empty()) {
        y << "    tls:\n      certificates:\n";
        for (const auto& cert : tls_certificates) {
            y << "        - certificate_file: " << quoted(cert.certificate) << "\n          key_file: " << quoted(cert.key)
              << "\n";
            if (!cert.names.empty()) {
                y << "          sni: [";
                for (std::size_t i = 0; i < cert.names.size(); ++i) y << (i ? ", " : "") << quoted(cert.names[i]);
                y << "]\n";
            }
        }
    }
    if (!session_ticket_keys.empty()) y << "tls:\n  session_ticket_keys: " << quoted(session_ticket_keys) << "\n";
    if (host_part_only) {
        y << extra;
        return y.str();
    }
    y << sharedPart();
    y << extra;
    return y.str();
}

std::string GatewayConfig::sharedPart() const {
    std::ostringstream y;
    y << "limits:\n"
      << "  max_header_bytes: " << max_header_bytes << "\n"
      << "  max_body_bytes: " << max_body_bytes << "\n"
      << "  max_connections: " << max_connections << "\n";
    y << "timeouts:\n"
      << "  header_read: " << header_read << "\n"
      << (body_read.empty() ? "" : "  body_read: " + body_read + "\n") << (send.empty() ? "" : "  send: " + send + "\n")
      << "  idle: " << idle << "\n"
      << "  upstream_connect: " << upstream_connect << "\n"
      << "  upstream_response: " << upstream_response << "\n"
      << "  drain: " << drain << "\n";
    y << "routes:\n";
    for (const auto& r : routes) {
        y << "  - name: " << r.name << "\n    match: " << r.match << "\n";
        if (!r.cluster.empty()) {
            y << "    cluster: " << r.cluster << "\n";
        } else {
            y << "    direct_response:\n      status: " << r.direct_status
              << "\n      body: " << quoted(r.direct_body) << "\n";
        }
        y << r.extra;
    }
    if (!clusters.empty()) {
        y << "clusters:\n";
        for (const auto& c : clusters) {
            y << "  - name: " << c.name << "\n    endpoints:\n";
            for (const auto& e : c.endpoints) y << "      - " << e << "\n";
            y << "    max_idle_per_endpoint: " << c.max_idle_per_endpoint << "\n";
            if (c.tls) {
                y << "    tls:\n      verify: " << (c.tls_verify ? "true" : "false") << "\n";
                if (!c.tls_ca_file.empty()) y << "      ca_file: " << quoted(c.tls_ca_file) << "\n";
                if (!c.tls_sni.empty()) y << "      sni: " << quoted(c.tls_sni) << "\n";
            }
            y << c.extra;
        }
    }
    return y.str();
}

GatewayConfig defaultGatewayConfig(std::uint16_t listen_port, std::uint16_t admin_port,
                                   std::uint16_t upstream_port, std::uint16_t down_port) {
    GatewayConfig c;
    c.listen_port = listen_port;
    c.admin_port = admin_port;
    c.routes = {
        {"direct", "{ path: /direct }", "", 200, "direct\n"},
        {"down", "{ path_prefix: /down/ }", "dead", 0, ""},
        {"upstream", "{ path_prefix: / }", "backend", 0, ""},
    };
    c.clusters = {
        {"backend", {"127.0.0.1:" + std::to_string(upstream_port)}, 64},
        {"dead", {"127.0.0.1:" + std::to_string(down_port)}, 64},
    };
    return c;
}

}  // namespace hotgate::test

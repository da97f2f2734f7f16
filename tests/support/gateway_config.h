// GatewayConfig: the YAML a test hands to hotgate, as fields with the contract's defaults, so
// each test states only what it changes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hotgate::test {

struct GatewayConfig {
    struct Route {
        std::string name;
        std::string match;  // YAML flow mapping, e.g. "{ path_prefix: / }"
        std::string cluster;  // empty for a direct response
        int direct_status = 200;
        std::string direct_body;
        // More keys of the route as YAML lines indented by 4 ("    critical: false\n").
        std::string extra{};
    };
    struct Cluster {
        std::string name;
        std::vector<std::string> endpoints;  // "127.0.0.1:PORT", or a flow mapping "{address: ..., weight: 3}"
        int max_idle_per_endpoint = 64;
        bool tls = false;  // TLS to the endpoints, with:
        std::string tls_ca_file;
        std::string tls_sni;
        bool tls_verify = true;
        // More keys of the cluster as YAML lines indented by 4 ("    lb: { policy: maglev }\n").
        std::string extra;
    };

    int workers = 1;
    std::uint16_t listen_port = 0;
    // The listener's IPv4 address. 0.0.0.0 only in a network namespace the test made (a client
    // in another namespace reaches it over a veth); 127.0.0.1 everywhere else.
    std::string listen_address = "127.0.0.1";
    std::uint16_t admin_port = 0;
    std::string listener_name = "public";
    std::vector<std::string> trusted_proxies;  // listeners[0].trusted_proxies
    // More keys of listeners[0] as YAML lines indented by 4 ("    protocols: [h2, http1]\n").
    std::string listener_extra;
    // dataplane.bpffs_root; empty leaves the key out (hotgate's default, shared machine-wide).
    std::string bpffs_root;
    // dataplane.steering: "auto" (BPF when possible) or "off" (listener-fd takeover); empty leaves it out.
    std::string steering;

    std::string max_header_bytes = "16k";
    std::string max_body_bytes = "10MB";
    std::string max_connections = "10000";

    std::string header_read = "10s";
    std::string body_read;  // timeouts.body_read; empty leaves it out
    std::string send;       // timeouts.send; empty leaves it out
    std::string idle = "60s";
    std::string upstream_connect = "2s";
    std::string upstream_response = "30s";
    std::string drain = "15s";

    // TLS on the listener when non-empty: certificate files, the first is the default.
    struct TlsCertificate {
        std::string certificate;
        std::string key;
        std::vector<std::string> names;  // empty: the certificate's own names
    };
    std::vector<TlsCertificate> tls_certificates;
    std::string session_ticket_keys;  // tls.session_ticket_keys; empty leaves it out

    std::vector<Route> routes;  // first match wins, in this order
    std::vector<Cluster> clusters;
    // More top-level sections, as YAML text ("circuit_breaker:\n  enabled: true\n").
    std::string extra;
    // A fleet host's own file (docs/fleet.md): workers, admin, dataplane, listeners, tls and
    // `extra` (its config_source) only; sharedPart() is what etcd then holds.
    bool host_part_only = false;

    // The config file text. Strings are emitted double-quoted and escaped.
    std::string toYaml() const;
    // limits, timeouts, routes and clusters: what a fleet shares through etcd.
    std::string sharedPart() const;
};

// The configuration most integration tests use: listener and admin on the given ports,
// `/direct` answered by a direct response ("direct\n"), `/down/...` to a cluster whose only
// endpoint refuses connections (`down_port`), everything else to the upstream (`backend`).
GatewayConfig defaultGatewayConfig(std::uint16_t listen_port, std::uint16_t admin_port,
                                   std::uint16_t upstream_port, std::uint16_t down_port);

}  // namespace hotgate::test

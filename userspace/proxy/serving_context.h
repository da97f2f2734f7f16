// ServingContext: what every worker and connection of one gateway process shares: the config
// snapshot and its router, metrics, the version string, and process-wide counters.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "observability/metrics.h"
#include "proxy/router.h"
#include "tls/tls_listener.h"

namespace hotgate {

// What happens to keep-alive connections when this version stops serving.
enum class DrainMode {
    None,     // serving normally
    Close,    // SIGTERM: finish requests in progress with Connection: close, close idle ones
    HandOff,  // upgrade commit/rollback: pass each connection at a request boundary to the other version
};

// Takes a client connection at a request boundary (fd, listener name, bytes already read from
// it). Returns false when it could not; the caller then closes the fd. Called on worker threads.
using ConnectionHandOff = std::function<bool(int fd, const std::string& listener, const std::string& buffered)>;

struct ServingContext {
    ServingContext(ConfigSnapshot snapshot, std::string version_label, Metrics& metrics_registry)
        : config(snapshot), router(snapshot), metrics(metrics_registry), version(std::move(version_label)) {
        for (const auto& route : config->routes) {
            std::optional<std::size_t> cluster;
            for (std::size_t c = 0; c < config->clusters.size(); ++c)
                if (!route.cluster.empty() && config->clusters[c].name == route.cluster) cluster = c;
            route_cluster.push_back(cluster);
        }
    }

    ConfigSnapshot config;
    Router router;
    Metrics& metrics;
    std::string version;  // "<build-version>/<config-hash>": the x-hotgate-version header value

    std::vector<std::optional<std::size_t>> route_cluster;  // per route: index into config->clusters

    // Per listener (config order): its TLS state, null for a plain listener. Set before workers start.
    std::vector<std::shared_ptr<tls::TlsListener>> tls;

    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::size_t> in_flight_requests{0};
    std::atomic<DrainMode> drain_mode{DrainMode::None};
    std::atomic<std::uint64_t> connections_handed_off{0};
    std::atomic<std::uint64_t> connections_adopted{0};

    // Set before drain_mode becomes HandOff; read only after that.
    ConnectionHandOff hand_off;

    bool draining() const { return drain_mode.load(std::memory_order_relaxed) != DrainMode::None; }
};

}  // namespace hotgate

// ServingContext: what every worker and connection of one gateway process shares: the config
// snapshot and its router, metrics, the version string, and process-wide counters.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "observability/metrics.h"
#include "proxy/router.h"

namespace hotgate {

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

    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::size_t> in_flight_requests{0};
    std::atomic<bool> draining{false};
};

}  // namespace hotgate

// The schema's tables, one function per section (each in the file named after the section)
// and the top-level table that orders the sections (sections.cpp). docs/config.md is generated
// from them.
#pragma once

#include <vector>

#include "config/config.h"
#include "config/schema/structure.h"
#include "config/schema/value_types.h"

namespace hotgate::schema {

// A top-level key of the file and the section it is.
struct Section {
    ConfigSection id;
    Row<Config> row;
};

// In file order: the order of the canonical form and of docs/config.md.
const std::vector<Section>& sections();

Table<AdminConfig> adminTable();
Table<DataplaneConfig> dataplaneTable();
Table<ListenerConfig> listenerTable();
Table<TlsConfig> tlsTable();
Table<Limits> limitsTable();
Table<Timeouts> timeoutsTable();
Table<RouteConfig> routeTable();
Table<ClusterConfig> clusterTable();
Table<HealthConfig> healthTable();
Table<ConfigEngineConfig> configEngineTable();
Table<RateLimitConfig> rateLimitTable();
Table<CircuitBreakerConfig> circuitBreakerTable();
Table<CircuitBreakerOverride> circuitBreakerOverrideTable();
Table<UpgradeConfig> upgradeTable();
Table<TelemetryConfig> telemetryTable();
Table<ConfigSourceConfig> configSourceTable();
// access_log: a list of sinks, or one sink's mapping (access_log.cpp).
Row<Config> accessLogRow();

}  // namespace hotgate::schema

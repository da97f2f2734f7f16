// The top level of a config file: its sections in order (the order of the canonical form and
// of docs/config.md), each with its table (the file named after it).
#include "config/schema/tables.h"

namespace hotgate::schema {

const std::vector<Section>& sections() {
    using enum Applies;
    static const std::vector<Section> kSections = {
        {ConfigSection::Workers,
         {"workers", &Config::workers, WorkerCount{{1, 256}}, "auto", NewVersion,
          "worker threads, each with its own event loop and one SO_REUSEPORT socket per listener"}},
        {ConfigSection::Admin, block("admin", &Config::admin, adminTable(), kEmpty, "the admin endpoint")},
        {ConfigSection::Dataplane, block("dataplane", &Config::dataplane, dataplaneTable(), kEmpty,
                          "how new connections are steered to the active version, and the XDP front")},
        {ConfigSection::Listeners, namedList("listeners", &Config::listeners, listenerTable(),
                              {.noun = "listener",
                               .order = EntryOrder::ByName,
                               .required = true,
                               .at_least_one = true,
                               .distinct_key = "address",
                               .applies = NewVersion,
                               .name_doc = "names the listener in metrics, pins and gwctl; a new version "
                                           "inherits sockets by it"},
                              "where the gateway serves: named groups of per-worker SO_REUSEPORT sockets")},
        {ConfigSection::Tls, block("tls", &Config::tls, tlsTable(), kEmpty, "process-wide TLS settings")},
        {ConfigSection::Limits, block("limits", &Config::limits, limitsTable(), kEmpty, "what one request or one process may take")},
        {ConfigSection::Timeouts, block("timeouts", &Config::timeouts, timeoutsTable(), kEmpty,
                         "how long each step of a request, and a drain, may take")},
        {ConfigSection::Routes, namedList("routes", &Config::routes, routeTable(),
                           {.noun = "route",
                            .order = EntryOrder::AsWritten,
                            .required = true,
                            .applies = InPlace,
                            .name_doc = "names the route in metrics and in the config engine's verdicts"},
                           "tried in order: the first whose match fits the request takes it")},
        {ConfigSection::Clusters, namedList("clusters", &Config::clusters, clusterTable(),
                             {.noun = "cluster",
                              .order = EntryOrder::ByName,
                              .applies = InPlace,
                              .name_doc = "the name routes proxy to"},
                             "the upstream groups routes proxy to")},
        {ConfigSection::Health, block("health", &Config::health, healthTable(), kEmpty,
                       "the TCP health profile (BPF): spike thresholds and the rolling window")},
        {ConfigSection::ConfigEngine, block("config_engine", &Config::config_engine, configEngineTable(), kEmpty,
                             "how a live change is verified, and when it is rolled back")},
        {ConfigSection::CircuitBreaker,
         block("circuit_breaker", &Config::circuit_breaker, circuitBreakerTable(), kEmpty,
               "the adaptive circuit breaker of every route (docs/protection.md); a route may override each key")},
        {ConfigSection::Upgrade, block("upgrade", &Config::upgrade, upgradeTable(), kEmpty,
                                       "what gwctl upgrade demands of a new binary before it runs it, and how gwctl "
                                       "verify compares the new version's answers")},
        {ConfigSection::Telemetry, block("telemetry", &Config::telemetry, telemetryTable(), kEmpty,
                                         "OpenTelemetry traces of upgrades and config applies (docs/telemetry.md)")},
        {ConfigSection::AccessLog, accessLogRow()},
        {ConfigSection::ConfigSource, block("config_source", &Config::config_source, configSourceTable(), kEmpty,
                                            "where the fleet's shared config comes from besides this file "
                                            "(docs/fleet.md); this host's own keys stay in the file")},
    };
    return kSections;
}

}  // namespace hotgate::schema

// What the schema says about a key that the config's consumers act on: the top-level section
// it belongs to, and whether a change to it applies in place or needs a new version. The diff
// (config_diff.h) carries both on every change; the config engine and gwctl decide by them.
#pragma once

#include <string_view>

namespace hotgate::schema {

enum class Applies {
    InPlace,     // the running version swaps in the new snapshot (gwctl config apply, SIGHUP)
    NewVersion,  // needs new sockets or workers: a new version, started by the hot upgrade path
};

// "in_place" or "new_version", as in `gwctl config diff --json` and the control protocol.
std::string_view toString(Applies applies);

// The top-level keys of a config file, in the order of the file's sections (and of the
// canonical form).
enum class ConfigSection {
    Workers,
    Admin,
    Dataplane,
    Listeners,
    Tls,
    Limits,
    Timeouts,
    Routes,
    Clusters,
    Health,
    ConfigEngine,
    CircuitBreaker,
    Upgrade,
    Telemetry,
    AccessLog,
    ConfigSource,
};

}  // namespace hotgate::schema

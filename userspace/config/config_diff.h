// The semantic difference between two config snapshots, by config path: what an operator
// changed in meaning, never how the file was written (order of sets, whitespace, comments,
// units, a default restated). Built on canonicalText(), so "same meaning" has one definition.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"

namespace hotgate {

struct ConfigChange {
    enum class Kind {
        Set,          // a value changed:            "routes[api].cluster: a -> b"
        AddedItem,    // a member joined a set:      "clusters[pay].endpoints += 10.0.0.7:80"
        RemovedItem,  // a member left a set:        "clusters[pay].endpoints -= 10.0.0.6:80"
        Added,        // a named entry appeared:     "routes[beta] added"
        Removed,      // a named entry disappeared:  "routes[beta] removed"
    };
    Kind kind = Kind::Set;
    std::string path;
    std::string old_value;  // Set and RemovedItem
    std::string new_value;  // Set and AddedItem
    // True when the change cannot reach traffic in place: it needs new sockets or new workers
    // (listener addresses, worker count, admin address, data plane), i.e. a new version started
    // by the hot upgrade path with the same binary and the new config.
    bool needs_new_version = false;

    std::string format() const;
    nlohmann::json toJson() const;
};

struct ConfigDiff {
    std::vector<ConfigChange> changes;  // sorted by path

    bool empty() const { return changes.empty(); }
    bool needsNewVersion() const;
    // Names of the routes whose traffic the change can affect (the route itself changed, or
    // the cluster it proxies to did), as in `after`. The verification window watches these.
    std::vector<std::string> affected_routes;
};

ConfigDiff diffConfigs(const Config& before, const Config& after);

// Whether a change at `path` (canonical form, e.g. "listeners[public].address") needs a new version.
bool pathNeedsNewVersion(const std::string& path);

}  // namespace hotgate

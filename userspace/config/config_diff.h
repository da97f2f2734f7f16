// The semantic difference between two config snapshots, by config path: what an operator
// changed in meaning, never how the file was written (order of sets, whitespace, comments,
// units, a default restated). Built on the canonical form (config/schema/canonical_form.h), so
// "same meaning" has one definition, and each change carries what the schema says of its key.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/schema/classification.h"

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
    // True when the schema row of the key (or of the list, for a whole entry) says
    // Applies::NewVersion: the change needs new sockets or workers (listener addresses, worker
    // count, admin address, data plane), i.e. a new version started by the hot upgrade path
    // with the same binary and the new config.
    bool needs_new_version = false;
    schema::ConfigSection section = schema::ConfigSection::Workers;  // the top-level key `path` is under
    std::string entry;  // the named entry `path` is in ("api" for routes[api].cluster); empty outside one

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

}  // namespace hotgate

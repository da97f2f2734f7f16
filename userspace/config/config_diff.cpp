#include "config/config_diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace hotgate {
namespace {

// canonicalText() as data: scalar paths with their value, set paths with their members.
struct CanonicalForm {
    std::map<std::string, std::string> values;
    std::map<std::string, std::set<std::string>> sets;
    std::set<std::string> entries;  // "routes[api]", "clusters[pay]", "listeners[public]"
};

// "routes[api].cluster" -> "routes[api]"; "" for paths outside a named collection.
std::string entryOf(const std::string& path) {
    const auto open = path.find('[');
    const auto dot = path.find('.');
    if (open == std::string::npos || (dot != std::string::npos && dot < open)) return "";
    const auto close = path.find(']', open);
    return close == std::string::npos ? "" : path.substr(0, close + 1);
}

CanonicalForm parseCanonical(const std::string& text) {
    CanonicalForm form;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (const auto add = line.find(" += "); add != std::string::npos) {
            const auto path = line.substr(0, add);
            form.sets[path].insert(line.substr(add + 4));
            if (auto entry = entryOf(path); !entry.empty()) form.entries.insert(entry);
        } else if (const auto set = line.find(" = "); set != std::string::npos) {
            const auto path = line.substr(0, set);
            form.values[path] = line.substr(set + 3);
            if (auto entry = entryOf(path); !entry.empty()) form.entries.insert(entry);
        }
    }
    return form;
}

bool startsWith(const std::string& text, const std::string& prefix) {
    return text.rfind(prefix, 0) == 0;
}

}  // namespace

bool pathNeedsNewVersion(const std::string& path) {
    // Sockets and threads are made at start: only a new version can have other ones. TLS
    // material is read per handshake, so certificates change in place.
    if (startsWith(path, "listeners["))
        return path.find("].tls") == std::string::npos && path.find("].trusted_proxies") == std::string::npos;
    return path == "workers" || startsWith(path, "admin.") || startsWith(path, "dataplane.") ||
           startsWith(path, "health.");
}

std::string ConfigChange::format() const {
    switch (kind) {
        case Kind::Set:
            return path + ": " + old_value + " -> " + new_value;
        case Kind::AddedItem:
            return path + " += " + new_value;
        case Kind::RemovedItem:
            return path + " -= " + old_value;
        case Kind::Added:
            return path + " added";
        case Kind::Removed:
            return path + " removed";
    }
    return path;
}

nlohmann::json ConfigChange::toJson() const {
    static const char* kKinds[] = {"set", "added_item", "removed_item", "added", "removed"};
    nlohmann::json out{{"path", path},
                       {"kind", kKinds[static_cast<int>(kind)]},
                       {"applies", needs_new_version ? "new_version" : "in_place"}};
    if (kind == Kind::Set || kind == Kind::RemovedItem) out["old"] = old_value;
    if (kind == Kind::Set || kind == Kind::AddedItem) out["new"] = new_value;
    return out;
}

bool ConfigDiff::needsNewVersion() const {
    return std::any_of(changes.begin(), changes.end(), [](const auto& c) { return c.needs_new_version; });
}

ConfigDiff diffConfigs(const Config& before, const Config& after) {
    const auto old_form = parseCanonical(canonicalText(before));
    const auto new_form = parseCanonical(canonicalText(after));
    ConfigDiff diff;
    auto add = [&](ConfigChange change) {
        change.needs_new_version = pathNeedsNewVersion(change.path);
        diff.changes.push_back(std::move(change));
    };
    // A whole entry added or removed is one change, not one per field.
    for (const auto& entry : old_form.entries)
        if (!new_form.entries.count(entry)) add({ConfigChange::Kind::Removed, entry});
    for (const auto& entry : new_form.entries)
        if (!old_form.entries.count(entry)) add({ConfigChange::Kind::Added, entry});
    auto entryKept = [&](const std::string& path) {
        const auto entry = entryOf(path);
        return entry.empty() || (old_form.entries.count(entry) && new_form.entries.count(entry));
    };

    std::set<std::string> value_paths;
    for (const auto& [path, value] : old_form.values) value_paths.insert(path);
    for (const auto& [path, value] : new_form.values) value_paths.insert(path);
    for (const auto& path : value_paths) {
        if (!entryKept(path)) continue;
        const auto o = old_form.values.find(path);
        const auto n = new_form.values.find(path);
        const std::string old_value = o == old_form.values.end() ? "(none)" : o->second;
        const std::string new_value = n == new_form.values.end() ? "(none)" : n->second;
        if (old_value != new_value) add({ConfigChange::Kind::Set, path, old_value, new_value});
    }
    std::set<std::string> set_paths;
    for (const auto& [path, members] : old_form.sets) set_paths.insert(path);
    for (const auto& [path, members] : new_form.sets) set_paths.insert(path);
    static const std::set<std::string> kEmpty;
    for (const auto& path : set_paths) {
        if (!entryKept(path)) continue;
        const auto o = old_form.sets.find(path);
        const auto n = new_form.sets.find(path);
        const auto& old_members = o == old_form.sets.end() ? kEmpty : o->second;
        const auto& new_members = n == new_form.sets.end() ? kEmpty : n->second;
        for (const auto& m : old_members)
            if (!new_members.count(m)) add({ConfigChange::Kind::RemovedItem, path, m, ""});
        for (const auto& m : new_members)
            if (!old_members.count(m)) add({ConfigChange::Kind::AddedItem, path, "", m});
    }
    std::stable_sort(diff.changes.begin(), diff.changes.end(),
                     [](const ConfigChange& a, const ConfigChange& b) { return a.path < b.path; });

    // Routes whose traffic may change: changed or new routes, and routes to a changed cluster.
    std::set<std::string> changed_routes;
    std::set<std::string> changed_clusters;
    for (const auto& change : diff.changes) {
        const auto entry = entryOf(change.path);
        if (startsWith(entry, "routes[")) changed_routes.insert(entry.substr(7, entry.size() - 8));
        if (startsWith(entry, "clusters[")) changed_clusters.insert(entry.substr(9, entry.size() - 10));
    }
    for (const auto& route : after.routes)
        if (changed_routes.count(route.name) || (!route.cluster.empty() && changed_clusters.count(route.cluster)))
            diff.affected_routes.push_back(route.name);
    return diff;
}

}  // namespace hotgate

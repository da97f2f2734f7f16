#include "config/config_diff.h"

#include <algorithm>
#include <map>
#include <set>

#include "config/schema/schema.h"

namespace hotgate {
namespace {

using schema::Applies;
using schema::CanonicalLine;
using schema::ConfigSection;

// A canonical form by path: its values, and its sets with their members.
struct IndexedForm {
    std::map<std::string, const CanonicalLine*> values;
    std::map<std::string, std::set<std::string>> sets;
    std::map<std::string, const CanonicalLine*> set_lines;  // one line of each set: what the schema says of it
};

IndexedForm indexed(const schema::CanonicalForm& form) {
    IndexedForm out;
    for (const auto& line : form.lines) {
        if (line.set_member) {
            out.sets[line.path].insert(line.value);
            out.set_lines.emplace(line.path, &line);
        } else {
            out.values[line.path] = &line;
        }
    }
    return out;
}

ConfigChange changeOf(ConfigChange::Kind kind, const CanonicalLine& line, std::string old_value,
                      std::string new_value) {
    return {kind,       line.path, std::move(old_value), std::move(new_value), line.applies == Applies::NewVersion,
            line.section, line.entry};
}

}  // namespace

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
                       {"applies", schema::toString(needs_new_version ? Applies::NewVersion : Applies::InPlace)}};
    if (kind == Kind::Set || kind == Kind::RemovedItem) out["old"] = old_value;
    if (kind == Kind::Set || kind == Kind::AddedItem) out["new"] = new_value;
    return out;
}

bool ConfigDiff::needsNewVersion() const {
    return std::any_of(changes.begin(), changes.end(), [](const auto& c) { return c.needs_new_version; });
}

ConfigDiff diffConfigs(const Config& before, const Config& after) {
    const auto old_form = schema::canonicalForm(before);
    const auto new_form = schema::canonicalForm(after);
    const auto old_index = indexed(old_form);
    const auto new_index = indexed(new_form);
    ConfigDiff diff;

    // A whole entry added or removed is one change, not one per field.
    auto entryChange = [&](ConfigChange::Kind kind, const auto& key, const schema::CanonicalEntry& entry) {
        diff.changes.push_back(
            {kind, entry.path, "", "", entry.applies == Applies::NewVersion, key.first, key.second});
    };
    for (const auto& [key, entry] : old_form.entries)
        if (!new_form.entries.count(key)) entryChange(ConfigChange::Kind::Removed, key, entry);
    for (const auto& [key, entry] : new_form.entries)
        if (!old_form.entries.count(key)) entryChange(ConfigChange::Kind::Added, key, entry);
    // Lines of an entry on one side only are in its Added or Removed change.
    auto entryKept = [&](const CanonicalLine& line) {
        const schema::CanonicalForm::EntryKey key{line.section, line.entry};
        return line.entry.empty() || (old_form.entries.count(key) && new_form.entries.count(key));
    };

    std::set<std::string> value_paths;
    for (const auto& [path, line] : old_index.values) value_paths.insert(path);
    for (const auto& [path, line] : new_index.values) value_paths.insert(path);
    for (const auto& path : value_paths) {
        const auto o = old_index.values.find(path);
        const auto n = new_index.values.find(path);
        const CanonicalLine& line = o != old_index.values.end() ? *o->second : *n->second;
        if (!entryKept(line)) continue;
        const std::string old_value = o == old_index.values.end() ? "(none)" : o->second->value;
        const std::string new_value = n == new_index.values.end() ? "(none)" : n->second->value;
        if (old_value != new_value) diff.changes.push_back(changeOf(ConfigChange::Kind::Set, line, old_value, new_value));
    }
    std::set<std::string> set_paths;
    for (const auto& [path, members] : old_index.sets) set_paths.insert(path);
    for (const auto& [path, members] : new_index.sets) set_paths.insert(path);
    static const std::set<std::string> kEmpty;
    for (const auto& path : set_paths) {
        const auto o = old_index.sets.find(path);
        const auto n = new_index.sets.find(path);
        const CanonicalLine& line =
            o != old_index.sets.end() ? *old_index.set_lines.at(path) : *new_index.set_lines.at(path);
        if (!entryKept(line)) continue;
        const auto& old_members = o == old_index.sets.end() ? kEmpty : o->second;
        const auto& new_members = n == new_index.sets.end() ? kEmpty : n->second;
        for (const auto& m : old_members)
            if (!new_members.count(m)) diff.changes.push_back(changeOf(ConfigChange::Kind::RemovedItem, line, m, ""));
        for (const auto& m : new_members)
            if (!old_members.count(m)) diff.changes.push_back(changeOf(ConfigChange::Kind::AddedItem, line, "", m));
    }
    std::stable_sort(diff.changes.begin(), diff.changes.end(),
                     [](const ConfigChange& a, const ConfigChange& b) { return a.path < b.path; });

    // Routes whose traffic may change: changed or new routes, and routes to a changed cluster.
    std::set<std::string> changed_routes;
    std::set<std::string> changed_clusters;
    for (const auto& change : diff.changes) {
        if (change.section == ConfigSection::Routes) changed_routes.insert(change.entry);
        if (change.section == ConfigSection::Clusters) changed_clusters.insert(change.entry);
    }
    for (const auto& route : after.routes)
        if (changed_routes.count(route.name) || (!route.cluster.empty() && changed_clusters.count(route.cluster)))
            diff.affected_routes.push_back(route.name);
    return diff;
}

}  // namespace hotgate

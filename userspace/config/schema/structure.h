// Rows for keys that hold more than a value: a nested mapping with its own table (a section,
// a route's match), an optional one (a cluster's tls), a list of mappings (a listener's
// certificates), and a list of named entries (listeners, routes, clusters), whose names
// become part of config paths: routes[api].cluster.
#pragma once

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/schema/row.h"
#include "config/schema/value_types.h"

namespace hotgate::schema {

namespace detail {

inline KeyDoc mappingDoc(std::string path, std::string type, std::string default_value, std::string_view doc) {
    return {std::move(path), {std::move(type), ""}, std::move(default_value), std::nullopt, doc};
}

}  // namespace detail

// A mapping always present in the snapshot: absent from the file, its keys take their
// defaults. `when_absent` is kEmpty or required.
template <typename Owner, typename Sub>
Row<Owner> block(std::string_view key, Sub Owner::*member, Table<Sub> table, Default when_absent,
                 std::string_view doc) {
    auto read = [key, member, table, when_absent](Reader& reader, const YAML::Node& parent,
                                                  const std::string& parent_path, Owner& owner) {
        const std::string path = Reader::join(parent_path, key);
        const YAML::Node node = Reader::child(parent, key);
        if (!node.IsDefined() && when_absent.kind() == Default::Kind::Required) {
            reader.missing(parent, parent_path, key, when_absent.text());
            return false;
        }
        if (node.IsDefined() && !reader.expectMap(node, path)) return false;
        if (node.IsDefined()) reader.checkKeys(node, path, table.keys());
        readRows(table, reader, node, path, owner.*member);
        return true;
    };
    auto write = [key, member, table](CanonicalWriter& writer, const std::string& parent_path, const Owner& owner) {
        writeRows(table, writer, Reader::join(parent_path, key), owner.*member);
    };
    auto describe = [key, table, when_absent, doc](Reference& reference, const std::string& parent_path) {
        const std::string path = Reader::join(parent_path, key);
        reference.push_back(detail::mappingDoc(path, "mapping", when_absent.describe(), doc));
        describeRows(table, reference, path);
    };
    return Row<Owner>(key, read, write, describe);
}

// A mapping that may be absent (std::nullopt): given, even empty, its keys take their defaults.
template <typename Owner, typename Sub>
Row<Owner> optionalBlock(std::string_view key, std::optional<Sub> Owner::*member, Table<Sub> table,
                         std::string_view doc) {
    auto read = [key, member, table](Reader& reader, const YAML::Node& parent, const std::string& parent_path,
                                     Owner& owner) {
        const std::string path = Reader::join(parent_path, key);
        const YAML::Node node = Reader::child(parent, key);
        (owner.*member).reset();
        if (!node.IsDefined()) return true;
        if (!reader.expectMap(node, path)) return false;
        Sub sub{};
        readMapping(table, reader, node, path, sub);
        owner.*member = std::move(sub);
        return true;
    };
    auto write = [key, member, table](CanonicalWriter& writer, const std::string& parent_path, const Owner& owner) {
        if (owner.*member) writeRows(table, writer, Reader::join(parent_path, key), *(owner.*member));
    };
    auto describe = [key, table, doc](Reference& reference, const std::string& parent_path) {
        const std::string path = Reader::join(parent_path, key);
        reference.push_back(detail::mappingDoc(path, "mapping", "", doc));
        describeRows(table, reference, path);
    };
    return Row<Owner>(key, read, write, describe);
}

// What a list of mappings may be written as.
enum class ListShape {
    Sequence,            // a YAML sequence only
    SequenceOrMapping,   // or, for a list of one, that mapping alone (access_log: {path: ...})
};

// A list of mappings whose order means something (a listener's certificates: the first is
// the default). Paths index them: certificates[0].key_file. `when_empty` is the problem an
// empty list is ("" when it is fine).
template <typename Owner, typename Item>
Row<Owner> list(std::string_view key, std::vector<Item> Owner::*member, Table<Item> table, Default when_absent,
                std::string_view when_empty, std::string_view doc, ListShape shape = ListShape::Sequence) {
    auto read = [key, member, table, when_absent, when_empty, shape](Reader& reader, const YAML::Node& parent,
                                                                     const std::string& parent_path, Owner& owner) {
        const std::string path = Reader::join(parent_path, key);
        const YAML::Node node = Reader::child(parent, key);
        auto& items = owner.*member;
        items.clear();
        if (!node.IsDefined()) {
            if (when_absent.kind() != Default::Kind::Required) return true;
            reader.missing(parent, parent_path, key, when_absent.text());
            return false;
        }
        if (shape == ListShape::SequenceOrMapping && node.IsMap()) {
            Item item{};
            readMapping(table, reader, node, path, item);
            items.push_back(std::move(item));
            return true;
        }
        if (!reader.expectSequence(node, path)) return false;
        if (node.size() == 0 && !when_empty.empty()) {
            reader.problem(node, path, std::string(when_empty));
            return false;
        }
        for (std::size_t i = 0; i < node.size(); ++i) {
            const std::string item_path = path + "[" + std::to_string(i) + "]";
            if (!reader.expectMap(node[i], item_path)) continue;
            Item item{};
            readMapping(table, reader, node[i], item_path, item);
            items.push_back(std::move(item));
        }
        return true;
    };
    auto write = [key, member, table](CanonicalWriter& writer, const std::string& parent_path, const Owner& owner) {
        const auto& items = owner.*member;
        const std::string path = Reader::join(parent_path, key);
        for (std::size_t i = 0; i < items.size(); ++i)
            writeRows(table, writer, path + "[" + std::to_string(i) + "]", items[i]);
    };
    auto describe = [key, table, when_absent, doc, shape](Reference& reference, const std::string& parent_path) {
        const std::string path = Reader::join(parent_path, key);
        const bool one_ok = shape == ListShape::SequenceOrMapping;
        reference.push_back(detail::mappingDoc(
            path, one_ok ? "list of mappings, in order (one: the mapping alone)" : "list of mappings, in order",
            when_absent.describe(), doc));
        describeRows(table, reference, path + "[]");
    };
    return Row<Owner>(key, read, write, describe);
}

// How a list of named entries orders them.
enum class EntryOrder {
    ByName,     // a set: the file's order means nothing (listeners, clusters)
    AsWritten,  // the order is meaning (routes: the first match wins); the canonical form says it
};

struct NamedListRules {
    std::string_view noun = {};      // "listener": "duplicate listener name", "at least one listener is required"
    EntryOrder order = EntryOrder::ByName;
    bool required = false;           // the key must be given
    bool at_least_one = false;       // and hold an entry
    std::string_view distinct_key = {};  // a key no two entries may share ("address"); empty: none
    Applies applies = Applies::InPlace;  // how adding or removing an entry applies
    std::string_view name_doc = {};  // the doc line of the entries' `name`
};

// A list of entries named by their `name` key (which `Entry::name` holds). Paths name them:
// listeners[public].address; the diff reports a whole entry added or removed as one change.
template <typename Owner, typename Entry>
Row<Owner> namedList(std::string_view key, std::vector<Entry> Owner::*member, Table<Entry> table,
                     NamedListRules rules, std::string_view doc) {
    auto read = [key, member, table, rules](Reader& reader, const YAML::Node& parent, const std::string& parent_path,
                                            Owner& owner) {
        const std::string list_path = Reader::join(parent_path, key);
        const std::string at_least_one = "at least one " + std::string(rules.noun) + " is required";
        const YAML::Node node = Reader::child(parent, key);
        auto& entries = owner.*member;
        entries.clear();
        if (!node.IsDefined()) {
            if (!rules.required) return true;
            reader.missing(parent, parent_path, key, at_least_one);
            return false;
        }
        if (!reader.expectSequence(node, list_path)) return false;
        if (rules.at_least_one && node.size() == 0) reader.problem(node, list_path, at_least_one);
        auto keys = table.keys();
        keys.insert(keys.begin(), "name");
        std::set<std::string> names;
        std::set<std::string> distinct_values;
        for (std::size_t i = 0; i < node.size(); ++i) {
            const YAML::Node item = node[i];
            std::string path = list_path + "[" + std::to_string(i) + "]";
            if (!reader.expectMap(item, path)) continue;
            reader.checkKeys(item, path, keys);
            Entry entry{};
            if (!item["name"].IsDefined()) {
                reader.missing(item, path, "name", "");
            } else if (auto name = EntryName{}.parse(reader, item["name"], path + ".name")) {
                entry.name = *name;
                path = list_path + "[" + *name + "]";
                if (!names.insert(*name).second)
                    reader.problem(item["name"], path, "duplicate " + std::string(rules.noun) + " name");
            }
            readRows(table, reader, item, path, entry, [&](const Row<Entry>& row, bool ok) {
                if (!ok || row.key != rules.distinct_key) return;
                CanonicalWriter value;
                row.write(value, "", entry);
                const std::string text = value.form.lines.empty() ? "" : value.form.lines.front().value;
                if (!distinct_values.insert(text).second)
                    reader.problem(item[std::string(row.key)], Reader::join(path, row.key),
                                   std::string(row.key) + " " + text + " is used by another " +
                                       std::string(rules.noun));
            });
            entries.push_back(std::move(entry));
        }
        return true;
    };
    auto write = [key, member, table, rules](CanonicalWriter& writer, const std::string& parent_path,
                                             const Owner& owner) {
        std::vector<const Entry*> in_order;
        for (const auto& entry : owner.*member) in_order.push_back(&entry);
        if (rules.order == EntryOrder::ByName)
            std::sort(in_order.begin(), in_order.end(), [](const Entry* a, const Entry* b) { return a->name < b->name; });
        for (std::size_t i = 0; i < in_order.size(); ++i) {
            const std::string path = Reader::join(parent_path, key) + "[" + in_order[i]->name + "]";
            writer.beginEntry(path, in_order[i]->name, rules.applies);
            if (rules.order == EntryOrder::AsWritten) writer.value(path + ".order", std::to_string(i), rules.applies);
            writeRows(table, writer, path, *in_order[i]);
            writer.endEntry();
        }
    };
    auto describe = [key, table, rules, doc](Reference& reference, const std::string& parent_path) {
        const std::string path = Reader::join(parent_path, key);
        std::string bounds = rules.order == EntryOrder::ByName ? "a set: the order means nothing"
                                                               : "in order: the order is meaning";
        if (rules.at_least_one) bounds = "at least one; " + bounds;
        reference.push_back({path, {"list of named mappings", bounds}, rules.required ? "required" : "", rules.applies, doc});
        reference.push_back({path + "[].name", EntryName{}.doc(), "required", rules.applies, rules.name_doc});
        describeRows(table, reference, path + "[]");
    };
    return Row<Owner>(key, read, write, describe);
}

}  // namespace hotgate::schema

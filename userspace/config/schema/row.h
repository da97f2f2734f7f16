// A schema table: one row per key of a mapping (a section, a listener, a route's match), each
// with its key, the member it fills, its type and bounds, its default, whether a change applies
// in place or needs a new version, and a doc line. The loader, the canonical form and the
// reference all walk the same rows (structure.h adds rows for nested mappings and lists).
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/schema/canonical_form.h"
#include "config/schema/classification.h"
#include "config/schema/reader.h"
#include "config/schema/reference.h"

namespace hotgate::schema {

// What a key is when the file leaves it out: the table's "default" column.
class Default {
public:
    enum class Kind { Text, AddedLater, Empty, Unset, Required };

    // The default as config text, read like the file's own ("60s", "16k", "auto").
    constexpr Default(const char* text) : kind_(Kind::Text), text_(text) {}
    // The default of a key added after configs existed without it: read like Text, but the
    // canonical text leaves the key out while it holds this default, so a binary that adds a key
    // changes no file's hash (the diff still sees the value).
    static constexpr Default addedLater(std::string_view text) { return Default(Kind::AddedLater, text); }
    // The member's empty value (no file, any host, no list), written as such in the canonical form.
    static constexpr Default empty() { return Default(Kind::Empty, {}); }
    // Not set, and absent from the canonical form (a route's cluster when it answers itself).
    static constexpr Default unset() { return Default(Kind::Unset, {}); }
    // A problem: "missing required key 'x'", or `message` when the key has its own.
    static constexpr Default required(std::string_view message = {}) { return Default(Kind::Required, message); }

    Kind kind() const { return kind_; }
    std::string_view text() const { return text_; }  // the default (Text) or the message (Required)
    std::string describe() const;                     // for the reference: "60s", "required" or ""

private:
    constexpr Default(Kind kind, std::string_view text) : kind_(kind), text_(text) {}
    Kind kind_;
    std::string_view text_;
};

inline constexpr Default kEmpty = Default::empty();
inline constexpr Default kUnset = Default::unset();
inline constexpr Default kRequired = Default::required();

inline std::string Default::describe() const {
    switch (kind_) {
        case Kind::Text:
        case Kind::AddedLater:
            return std::string(text_);
        case Kind::Required:
            return "required";
        case Kind::Empty:
        case Kind::Unset:
            break;
    }
    return "";
}

// A value parsed by a type (value_types.h) into the member's own type: a duration in the
// member's unit, an integer in the member's width.
template <typename Member, typename Parsed>
Member convertTo(Parsed&& value) {
    if constexpr (requires { typename Member::period; })
        return std::chrono::duration_cast<Member>(value);
    else
        return static_cast<Member>(std::forward<Parsed>(value));
}

template <typename Owner>
struct Row {
    // Reads the row's key from `parent` (a mapping; undefined when the whole mapping is absent)
    // into `owner`, defaults included. False when it reported a problem.
    using ReadFn = std::function<bool(Reader&, const YAML::Node& parent, const std::string& parent_path, Owner&)>;
    // Appends the row's canonical lines.
    using WriteFn = std::function<void(CanonicalWriter&, const std::string& parent_path, const Owner&)>;
    // Appends the row's reference entries; `parent_path` is "listeners[]" for a listener's keys.
    using DescribeFn = std::function<void(Reference&, const std::string& parent_path)>;

    // A value: key, member, type (parser, canonical form and bounds), default, applies, doc.
    template <typename Member, typename Type>
    Row(std::string_view key, Member Owner::*member, Type type, Default when_absent, Applies applies,
        std::string_view doc);

    // A nested mapping or list (structure.h).
    Row(std::string_view key, ReadFn read, WriteFn write, DescribeFn describe)
        : key(key), read(std::move(read)), write(std::move(write)), describe(std::move(describe)) {}

    std::string_view key;
    ReadFn read;
    WriteFn write;
    DescribeFn describe;
};

template <typename Owner>
struct Table {
    std::vector<Row<Owner>> rows;
    // Keys of which a mapping must give exactly one: {"path_prefix", "path"}.
    std::vector<std::vector<std::string_view>> exactly_one_of = {};
    // Checks across the keys of one mapping, run once its rows are read (a policy that needs
    // another key): each reports its problems at the mapping.
    std::vector<std::function<void(Reader&, const YAML::Node& map, const std::string& path, const Owner&)>> checks = {};

    std::vector<std::string_view> keys() const {
        std::vector<std::string_view> out;
        for (const auto& row : rows) out.push_back(row.key);
        return out;
    }
};

template <typename Owner>
template <typename Member, typename Type>
Row<Owner>::Row(std::string_view key, Member Owner::*member, Type type, Default when_absent, Applies applies,
                std::string_view doc)
    : key(key) {
    read = [key, member, type, when_absent](Reader& reader, const YAML::Node& parent, const std::string& parent_path,
                                            Owner& owner) {
        const std::string path = Reader::join(parent_path, key);
        auto assign = [&](const YAML::Node& node) {
            auto value = type.parse(reader, node, path);
            if (value) owner.*member = convertTo<Member>(std::move(*value));
            return value.has_value();
        };
        if (const YAML::Node given = Reader::child(parent, key); given.IsDefined()) return assign(given);
        switch (when_absent.kind()) {
            case Default::Kind::Text:
            case Default::Kind::AddedLater:
                if constexpr (requires { type.canonicalMembers(owner.*member); } || requires { Type::kSequence; })
                    return assign(YAML::Load(std::string(when_absent.text())));  // a set or list: "[a, b]"
                else
                    return assign(YAML::Node(std::string(when_absent.text())));
            case Default::Kind::Required:
                reader.missing(parent, parent_path, key, when_absent.text());
                return false;
            case Default::Kind::Empty:
            case Default::Kind::Unset:
                break;
        }
        owner.*member = Member{};
        return true;
    };
    write = [key, member, type, when_absent, applies](CanonicalWriter& writer, const std::string& parent_path,
                                                      const Owner& owner) {
        const Member& value = owner.*member;
        if (when_absent.kind() == Default::Kind::Unset && value == Member{}) return;
        const std::string path = Reader::join(parent_path, key);
        if constexpr (requires { type.canonicalMembers(value); }) {
            if (when_absent.kind() == Default::Kind::AddedLater) {
                Reader quiet("", YAML::Node());
                auto default_value = type.parse(quiet, YAML::Load(std::string(when_absent.text())), path);
                if (default_value && type.canonicalMembers(convertTo<Member>(std::move(*default_value))) ==
                                         type.canonicalMembers(value))
                    return;  // a later-added set at its default: out of the text, as a value is
            }
            for (auto& text : type.canonicalMembers(value)) writer.member(path, std::move(text), applies);
        } else {
            std::string text = type.canonical(value);
            bool hashed = true;
            if (when_absent.kind() == Default::Kind::AddedLater) {
                Reader quiet("", YAML::Node());  // the default parses: the schema test reads every default
                YAML::Node default_node(std::string(when_absent.text()));
                if constexpr (requires { Type::kSequence; }) default_node = YAML::Load(std::string(when_absent.text()));
                auto default_value = type.parse(quiet, default_node, path);
                hashed = !default_value || type.canonical(convertTo<Member>(std::move(*default_value))) != text;
            }
            writer.value(path, std::move(text), applies, hashed);
        }
    };
    describe = [key, type, when_absent, applies, doc](Reference& reference, const std::string& parent_path) {
        reference.push_back({Reader::join(parent_path, key), type.doc(), when_absent.describe(), applies, doc});
    };
}

namespace detail {

inline std::string oneOfMessage(const std::vector<std::string_view>& keys) {
    std::string out = "needs exactly one of ";
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i > 0) out += i + 1 == keys.size() ? " or " : ", ";
        out += "'" + std::string(keys[i]) + "'";
    }
    return out;
}

}  // namespace detail

// Reads every row of `table` from `map` (checkKeys is the caller's) into `owner`, in row order.
// A group of which exactly one key must be given is checked where its first key stands, and
// skipped whole when the file breaks it. `after_row` sees each row read and whether it was.
template <typename Owner>
void readRows(const Table<Owner>& table, Reader& reader, const YAML::Node& map, const std::string& path,
              Owner& owner,
              const std::type_identity_t<std::function<void(const Row<Owner>&, bool ok)>>& after_row = {}) {
    std::set<std::string_view> skipped;
    for (const auto& row : table.rows) {
        if (skipped.count(row.key)) continue;
        for (const auto& group : table.exactly_one_of) {
            if (group.front() != row.key) continue;
            std::size_t given = 0;
            for (const auto key : group) given += Reader::child(map, key).IsDefined() ? 1 : 0;
            if (given != 1) {
                reader.problem(map, path, detail::oneOfMessage(group));
                skipped.insert(group.begin(), group.end());
            }
        }
        if (skipped.count(row.key)) continue;
        const bool ok = row.read(reader, map, path, owner);
        if (after_row) after_row(row, ok);
    }
    for (const auto& check : table.checks) check(reader, map, path, owner);
}

// checkKeys, then readRows: a mapping read whole.
template <typename Owner>
void readMapping(const Table<Owner>& table, Reader& reader, const YAML::Node& map, const std::string& path,
                 Owner& owner) {
    reader.checkKeys(map, path, table.keys());
    readRows(table, reader, map, path, owner);
}

template <typename Owner>
void writeRows(const Table<Owner>& table, CanonicalWriter& writer, const std::string& path, const Owner& owner) {
    for (const auto& row : table.rows) row.write(writer, path, owner);
}

template <typename Owner>
void describeRows(const Table<Owner>& table, Reference& reference, const std::string& path) {
    for (const auto& row : table.rows) row.describe(reference, path);
}

}  // namespace hotgate::schema

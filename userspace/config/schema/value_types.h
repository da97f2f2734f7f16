// The kinds of value a config key holds: how a YAML scalar becomes the member (or which
// problem it is), how the member reads in the canonical form, and what docs/config.md says of
// it. A new kind of value is one struct here; a key of an existing kind is one table row.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/schema/reader.h"
#include "config/schema/reference.h"

namespace hotgate::schema {

// True when `text` is an HTTP field name (RFC 9110 5.1: a token): a hash or rate-limit key's header.
bool isFieldName(std::string_view text);

// A whole number within [min, max].
struct Integer {
    std::uint64_t min = 0;
    std::uint64_t max = 0;

    std::optional<std::uint64_t> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    template <typename T>
    std::string canonical(T value) const {
        return std::to_string(value);
    }
    TypeDoc doc() const;
};

// `workers`: a whole number within `range`, or "auto": one per CPU.
struct WorkerCount {
    Integer range;

    std::optional<std::uint64_t> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(unsigned value) const { return std::to_string(value); }
    TypeDoc doc() const;
};

// A plain number (also when quoted: "0.05") within [min, max].
struct Number {
    double min = 0;
    double max = 0;

    std::optional<double> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(double value) const;
    TypeDoc doc() const;
};

// true/yes/on or false/no/off.
struct Boolean {
    std::optional<bool> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(bool value) const { return value ? "true" : "false"; }
    TypeDoc doc() const;
};

// A duration with a unit (500ms, 2s, 1.5m, 1h), above zero; a bare number is refused (see
// units.h). The canonical form writes it in the member's own unit.
struct Duration {
    std::optional<std::chrono::milliseconds> parse(Reader& reader, const YAML::Node& node,
                                                   const std::string& path) const;
    std::string canonical(std::chrono::milliseconds value) const { return std::to_string(value.count()) + "ms"; }
    std::string canonical(std::chrono::microseconds value) const { return std::to_string(value.count()) + "us"; }
    TypeDoc doc() const;
};

// A size in bytes, optionally with k/MB/GB (binary multiples), at least `min`.
struct Size {
    std::uint64_t min = 0;
    std::uint64_t max = 0;  // 0: no bound

    std::optional<std::uint64_t> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    template <typename T>
    std::string canonical(T value) const {
        return std::to_string(value);
    }
    TypeDoc doc() const;
};

// An IP literal and port: "127.0.0.1:8080", "[::1]:8080". Host names are refused.
struct Address {
    using Value = SocketAddress;
    std::optional<SocketAddress> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const SocketAddress& value) const { return value.toString(); }
    TypeDoc doc() const;
};

// One of a few words, each standing for a value ("auto" -> true, "off" -> false).
template <typename T>
struct Choice {
    using Value = T;
    std::vector<std::pair<std::string_view, T>> words;

    std::optional<T> parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
        auto text = reader.scalar(node, path);
        if (!text) return std::nullopt;
        for (const auto& [word, value] : words)
            if (*text == word) return value;
        reader.problem(node, path, "must be " + alternatives("'", "'") + ", got '" + *text + "'");
        return std::nullopt;
    }
    std::string canonical(const T& value) const {
        for (const auto& [word, meaning] : words)
            if (meaning == value) return std::string(word);
        return {};
    }
    TypeDoc doc() const { return {"one of", alternatives("`", "`")}; }

private:
    // "'a', 'b' or 'c'"
    std::string alternatives(std::string_view open, std::string_view close) const {
        std::string out;
        for (std::size_t i = 0; i < words.size(); ++i) {
            if (i > 0) out += i + 1 == words.size() ? " or " : ", ";
            out += std::string(open) + std::string(words[i].first) + std::string(close);
        }
        return out;
    }
};

// Free text, possibly empty, any bytes (a response body). Quoted in the canonical form.
struct Text {
    using Value = std::string;
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const;
    TypeDoc doc() const;
};

// A file the config names: absolute, or relative to the config file (resolved at load).
// Quoted in the canonical form.
struct ConfigFile {
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const;
    TypeDoc doc() const;
};

// An absolute directory or file path, used as given.
struct AbsolutePath {
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const { return value; }
    TypeDoc doc() const;
};

// A DNS name, lower-cased (certificate and upstream SNI names).
struct HostName {
    using Value = std::string;
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const { return value; }
    TypeDoc doc() const;
};

// A route's host match: exact, "*.example.com" (suffix), or "*" (any, stored empty); lower-cased.
struct HostMatch {
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const { return value; }
    TypeDoc doc() const;
};

// A URL path, starting with '/'.
struct UrlPath {
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const { return value; }
    TypeDoc doc() const;
};

// An IP range: "10.0.0.0/8", "::1/128", or one address (a /32 or /128). Host bits set under the
// prefix are refused ("10.0.0.1/8" most likely means something else).
struct IpRange {
    using Value = Cidr;
    std::optional<Cidr> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const Cidr& value) const { return value.toString(); }
    TypeDoc doc() const;
};

// A network interface name (IFNAMSIZ: at most 15 characters).
struct InterfaceName {
    using Value = std::string;
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const { return value; }
    TypeDoc doc() const;
};

// An HTTP field name (a token), read in lower case: a response field `gwctl verify` compares.
struct FieldName {
    using Value = std::string;
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const { return value; }
    TypeDoc doc() const;
};

// The name of a listener, route or cluster: it becomes part of config paths (routes[api]), so
// it holds no blanks and none of . / [ ].
struct EntryName {
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const { return value; }
    TypeDoc doc() const;
};

// The name of a cluster of the same config (checked once every section is read).
struct ClusterName {
    std::optional<std::string> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const std::string& value) const { return value; }
    TypeDoc doc() const;
};

// What a set does with a member given twice.
enum class Duplicates {
    Refused,  // a problem ("duplicate endpoint 10.0.0.5:80")
    Merged,   // kept once
    Kept,     // kept as given
};

// A YAML list read as a set of `Item`s: its order in the file means nothing, and the canonical
// form lists the members sorted, one "path += member" line each.
template <typename Item>
struct SetOf {
    using Value = typename Item::Value;

    Item item = {};
    std::string_view noun = {};  // "endpoint": "duplicate endpoint X", "at least one endpoint is required"
    Duplicates duplicates = Duplicates::Kept;
    bool sorted = false;       // stored sorted (else in the file's order)
    bool at_least_one = false;  // an empty list is a problem

    std::optional<std::vector<Value>> parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
        if (!reader.expectSequence(node, path)) return std::nullopt;
        bool ok = true;
        if (at_least_one && node.size() == 0) {
            reader.problem(node, path, "at least one " + std::string(noun) + " is required");
            ok = false;
        }
        std::vector<Value> members;
        std::set<std::string> seen;
        for (std::size_t i = 0; i < node.size(); ++i) {
            const std::string member_path = path + "[" + std::to_string(i) + "]";
            auto member = item.parse(reader, node[i], member_path);
            if (!member) {
                ok = false;
                continue;
            }
            std::string text;
            if constexpr (requires { item.identity(*member); })
                text = item.identity(*member);  // members the same but for an attribute (a weight)
            else
                text = item.canonical(*member);
            if (duplicates == Duplicates::Refused && !seen.insert(text).second) {
                reader.problem(node[i], member_path, "duplicate " + std::string(noun) + " " + text);
                ok = false;
            }
            members.push_back(std::move(*member));
        }
        if (sorted || duplicates == Duplicates::Merged) std::sort(members.begin(), members.end());
        if (duplicates == Duplicates::Merged) members.erase(std::unique(members.begin(), members.end()), members.end());
        if (!ok) return std::nullopt;
        return members;
    }
    std::vector<std::string> canonicalMembers(const std::vector<Value>& members) const {
        auto in_order = members;
        std::sort(in_order.begin(), in_order.end());
        std::vector<std::string> out;
        out.reserve(in_order.size());
        for (const auto& member : in_order) out.push_back(item.canonical(member));
        return out;
    }
    TypeDoc doc() const {
        const TypeDoc of = item.doc();
        std::string bounds = of.bounds;
        if (at_least_one) bounds = "at least one; " + bounds;
        if (duplicates == Duplicates::Refused) bounds += "; no duplicates";
        return {"set of " + of.type, bounds};
    }
};

// A YAML list whose order means something (a preference): read like SetOf (its noun,
// duplicates and at_least_one; `members.sorted` must stay false), kept in the file's order, and
// one canonical value "[a, b]", so a change of order is a change.
template <typename Item>
struct ListOf {
    using Value = typename Item::Value;
    static constexpr bool kSequence = true;  // its default is YAML text: "[a, b]"

    SetOf<Item> members = {};

    std::optional<std::vector<Value>> parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
        return members.parse(reader, node, path);
    }
    std::string canonical(const std::vector<Value>& list) const {
        std::string out = "[";
        for (std::size_t i = 0; i < list.size(); ++i) out += (i > 0 ? ", " : "") + members.item.canonical(list[i]);
        return out + "]";
    }
    TypeDoc doc() const {
        TypeDoc of = members.doc();
        of.type = "list of " + members.item.doc().type;
        of.bounds += "; in order of preference";
        return of;
    }
};

}  // namespace hotgate::schema

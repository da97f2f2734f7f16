// The kinds of value only the protection keys hold: a rate limit's key source, and a route's
// override of a top-level setting (absent: the top level's value).
#pragma once

#include <optional>
#include <string>

#include "config/config.h"
#include "config/schema/reader.h"
#include "config/schema/reference.h"

namespace hotgate::schema {

// client_ip, header:NAME or route.
struct RateLimitKeyValue {
    std::optional<RateLimitKey> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const RateLimitKey& value) const;
    TypeDoc doc() const;
};

// A value of type `Inner` that a route may give to replace the top level's; the member is a
// std::optional, empty (and out of the canonical form) when the route leaves the key out.
template <typename Inner>
struct Overriding {
    Inner inner;

    auto parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
        return inner.parse(reader, node, path);
    }
    template <typename T>
    std::string canonical(const std::optional<T>& value) const {
        return value ? inner.canonical(*value) : std::string();
    }
    TypeDoc doc() const { return inner.doc(); }
};

}  // namespace hotgate::schema

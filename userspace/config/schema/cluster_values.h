// The kinds of value only a cluster's keys hold: an endpoint (an address, or an address with a
// weight), a hashing policy's key source, and a duration or a count that may be "off".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"
#include "config/schema/reader.h"
#include "config/schema/reference.h"

namespace hotgate::schema {

// "127.0.0.1:9000" (weight 1) or {address: 127.0.0.1:9000, weight: 3}. The canonical form of
// weight 1 is the address alone, so configs written before weights keep their hash.
struct Endpoint {
    using Value = EndpointConfig;
    static constexpr unsigned kMaxWeight = 1000;

    std::optional<EndpointConfig> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const EndpointConfig& value) const;
    // What makes two members the same endpoint: the address, whatever the weights.
    std::string identity(const EndpointConfig& value) const { return value.address.toString(); }
    TypeDoc doc() const;
};

// header:NAME, cookie:NAME, client_ip or path; empty: none.
struct HashKey {
    std::optional<HashKeySource> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(const HashKeySource& value) const;
    TypeDoc doc() const;
};

// A duration (as Duration), or "off": zero.
struct DurationOrOff {
    std::optional<std::chrono::milliseconds> parse(Reader& reader, const YAML::Node& node,
                                                   const std::string& path) const;
    std::string canonical(std::chrono::milliseconds value) const;
    TypeDoc doc() const;
};

// A count from 1 to kMax, or "off": zero (no limit). 0 itself is refused: a limit of zero
// would refuse everything, and "off" says what it means.
struct CountOrOff {
    static constexpr std::uint64_t kMax = 10'000'000;

    std::optional<std::uint64_t> parse(Reader& reader, const YAML::Node& node, const std::string& path) const;
    std::string canonical(std::uint64_t value) const;
    TypeDoc doc() const;
};

}  // namespace hotgate::schema

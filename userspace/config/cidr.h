// Cidr: an IP address range ("10.0.0.0/8", "::1/128", or one address), as config names the peers
// a listener trusts to state the client's address (listeners[].trusted_proxies).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hotgate {

struct Cidr {
    bool v6 = false;
    std::array<std::uint8_t, 16> address{};  // network address; the first 4 bytes for IPv4
    unsigned prefix = 0;                      // bits that must match (0..32 or 0..128)

    // "a.b.c.d/n", "x::y/n" or a lone address (a /32 or /128). Host bits set below the prefix
    // are an error ("10.0.0.1/8" most likely means something else). nullopt with `error` set.
    static std::optional<Cidr> parse(std::string_view text, std::string* error = nullptr);

    // True when the IPv4 (4 bytes) or IPv6 (16 bytes) address is inside. An IPv4-mapped IPv6
    // address ("::ffff:10.1.2.3") matches IPv4 ranges.
    bool contains(const std::uint8_t* bytes, std::size_t size) const;

    // The canonical form: "10.0.0.0/8", "::1/128".
    std::string toString() const;

    bool operator==(const Cidr&) const = default;
    bool operator<(const Cidr& other) const { return toString() < other.toString(); }
};

}  // namespace hotgate

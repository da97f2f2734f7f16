#include "config/cidr.h"

#include <arpa/inet.h>

#include <charconv>

namespace hotgate {
namespace {

bool prefixMatches(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
    for (unsigned i = 0; i < bits / 8; ++i)
        if (a[i] != b[i]) return false;
    if (bits % 8 == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits % 8));
    return (a[bits / 8] & mask) == (b[bits / 8] & mask);
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* error) {
    auto fail = [&](std::string message) -> std::optional<Cidr> {
        if (error) *error = std::move(message);
        return std::nullopt;
    };
    const auto slash = text.find('/');
    const std::string address(text.substr(0, slash));
    Cidr cidr;
    if (inet_pton(AF_INET, address.c_str(), cidr.address.data()) == 1) {
        cidr.v6 = false;
    } else if (inet_pton(AF_INET6, address.c_str(), cidr.address.data()) == 1) {
        cidr.v6 = true;
    } else {
        return fail("'" + std::string(text) + "' is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1/128)");
    }
    const unsigned max_bits = cidr.v6 ? 128 : 32;
    cidr.prefix = max_bits;
    if (slash != std::string_view::npos) {
        const auto bits = text.substr(slash + 1);
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), value);
        if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() || value > max_bits)
            return fail("'" + std::string(text) + "': the prefix length must be 0-" + std::to_string(max_bits));
        cidr.prefix = value;
    }
    Cidr network = cidr;
    for (unsigned bit = cidr.prefix; bit < max_bits; ++bit)
        network.address[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
    if (network.address != cidr.address)
        return fail("'" + std::string(text) + "' has host bits set; the range is " + network.toString());
    return cidr;
}

bool Cidr::contains(const std::uint8_t* bytes, std::size_t size) const {
    static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!v6 && size == 16 && prefixMatches(bytes, kMappedPrefix, 96)) return prefixMatches(bytes + 12, address.data(), prefix);
    if (v6 != (size == 16)) return false;
    return prefixMatches(bytes, address.data(), prefix);
}

std::string Cidr::toString() const {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, address.data(), text, sizeof text);
    return std::string(text) + "/" + std::to_string(prefix);
}

}  // namespace hotgate

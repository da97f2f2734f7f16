#include "proxy/lb/key_hash.h"

#include <xxhash.h>

namespace hotgate::lb {
namespace {

// Changing this moves every request key to another endpoint across an upgrade.
constexpr std::uint64_t kRequestKeySeed = 0x686f74676174655fULL;  // "hotgate_"

}  // namespace

std::uint64_t hashKey(std::string_view request_key) {
    return seededHash(request_key, kRequestKeySeed);
}

std::uint64_t seededHash(std::string_view bytes, std::uint64_t seed) {
    return XXH64(bytes.data(), bytes.size(), seed);
}

}  // namespace hotgate::lb

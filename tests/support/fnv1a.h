// FNV-1a 64: the digest /hash replies with, so a test can check a body the proxy streamed
// without keeping a copy of it on either side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace hotgate::test {

class Fnv1a64 {
public:
    void update(const void* data, std::size_t size) {
        auto* p = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < size; ++i) {
            hash_ ^= p[i];
            hash_ *= 0x100000001b3ULL;
        }
        bytes_ += size;
    }
    void update(std::string_view s) { update(s.data(), s.size()); }

    std::uint64_t bytes() const { return bytes_; }
    // "<bytes> <16 lowercase hex digits>", the exact /hash reply body.
    std::string summary() const {
        char hex[17];
        std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash_));
        return std::to_string(bytes_) + " " + hex;
    }

private:
    std::uint64_t hash_ = 0xcbf29ce484222325ULL;
    std::uint64_t bytes_ = 0;
};

}  // namespace hotgate::test

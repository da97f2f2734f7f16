// The hashes behind load-balancing placement must not change between releases: a request key
// that hashed to one value before an upgrade must hash to it after.
#include "proxy/lb/key_hash.h"

#include <gtest/gtest.h>

namespace hotgate::lb {
namespace {

// XXH64's published value for empty input and seed 0: the library is the XXH64 of the spec.
TEST(LbKeyHash, SeededHashIsXxh64) {
    EXPECT_EQ(seededHash("", 0), 0xEF46DB3751D8E999ULL);
}

// If these change, every request key lands on another endpoint after an upgrade: change them
// only deliberately, and say so in the release notes.
TEST(LbKeyHash, RequestKeyHashIsPinnedAcrossReleases) {
    EXPECT_EQ(hashKey(""), 0x908231ff838d68e8ULL);
    EXPECT_EQ(hashKey("203.0.113.7"), 0x1923cb5959c474eaULL);
    EXPECT_EQ(hashKey("user-42"), 0x66bce84a947e4d3eULL);
}

}  // namespace
}  // namespace hotgate::lb

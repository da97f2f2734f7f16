// Durations and sizes as the config spells them.
#include <gtest/gtest.h>

#include "config/units.h"

namespace hotgate {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsEveryUnit) {
    EXPECT_EQ(parseDuration("500ms"), milliseconds(500));
    EXPECT_EQ(parseDuration("2s"), milliseconds(2000));
    EXPECT_EQ(parseDuration("1.5s"), milliseconds(1500));
    EXPECT_EQ(parseDuration("1m"), milliseconds(60'000));
    EXPECT_EQ(parseDuration("2h"), milliseconds(7'200'000));
    EXPECT_EQ(parseDuration("10S"), milliseconds(10'000));
}

TEST(ParseDuration, RejectsPlainNumbersAndJunk) {
    EXPECT_FALSE(parseDuration("30"));    // seconds or milliseconds? refuse to guess
    EXPECT_FALSE(parseDuration("s"));
    EXPECT_FALSE(parseDuration("-1s"));
    EXPECT_FALSE(parseDuration("1.2.3s"));
    EXPECT_FALSE(parseDuration("5 parsecs"));
    EXPECT_FALSE(parseDuration(""));
}

TEST(ParseSize, AcceptsBytesAndBinaryMultiples) {
    EXPECT_EQ(parseSize("512"), 512u);
    EXPECT_EQ(parseSize("16k"), 16u * 1024);
    EXPECT_EQ(parseSize("16KB"), 16u * 1024);
    EXPECT_EQ(parseSize("10MB"), 10u * 1024 * 1024);
    EXPECT_EQ(parseSize("1.5m"), 1536u * 1024);
    EXPECT_EQ(parseSize("1GiB"), 1024ull * 1024 * 1024);
}

TEST(ParseSize, RejectsJunk) {
    EXPECT_FALSE(parseSize("1.5"));  // fractional bytes
    EXPECT_FALSE(parseSize("10 apples"));
    EXPECT_FALSE(parseSize("k"));
    EXPECT_FALSE(parseSize("-5"));
}

}  // namespace
}  // namespace hotgate

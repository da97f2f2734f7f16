// Cidr: the IP ranges of listeners[].trusted_proxies.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include "config/cidr.h"

namespace hotgate {
namespace {

bool contains(const Cidr& range, const char* address) {
    std::uint8_t bytes[16];
    if (inet_pton(AF_INET, address, bytes) == 1) return range.contains(bytes, 4);
    EXPECT_EQ(inet_pton(AF_INET6, address, bytes), 1) << address;
    return range.contains(bytes, 16);
}

TEST(Cidr, ParsesRangesAndLoneAddresses) {
    auto net = Cidr::parse("10.0.0.0/8");
    ASSERT_TRUE(net);
    EXPECT_EQ(net->toString(), "10.0.0.0/8");
    EXPECT_TRUE(contains(*net, "10.255.1.2"));
    EXPECT_FALSE(contains(*net, "11.0.0.1"));
    EXPECT_TRUE(contains(*net, "::ffff:10.1.2.3"));  // IPv4-mapped
    EXPECT_FALSE(contains(*net, "::1"));

    auto one = Cidr::parse("192.0.2.7");
    ASSERT_TRUE(one);
    EXPECT_EQ(one->toString(), "192.0.2.7/32");
    EXPECT_TRUE(contains(*one, "192.0.2.7"));
    EXPECT_FALSE(contains(*one, "192.0.2.8"));

    auto v6 = Cidr::parse("2001:db8::/33");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(contains(*v6, "2001:db8:7fff::1"));
    EXPECT_FALSE(contains(*v6, "2001:db8:8000::1"));
    EXPECT_FALSE(contains(*v6, "10.0.0.1"));

    auto all = Cidr::parse("0.0.0.0/0");
    ASSERT_TRUE(all);
    EXPECT_TRUE(contains(*all, "203.0.113.9"));
}

TEST(Cidr, RefusesWhatIsNotARangeWithTheReason) {
    std::string error;
    EXPECT_FALSE(Cidr::parse("10.0.0.1/8", &error));
    EXPECT_EQ(error, "'10.0.0.1/8' has host bits set; the range is 10.0.0.0/8");
    EXPECT_FALSE(Cidr::parse("10.0.0.0/33", &error));
    EXPECT_EQ(error, "'10.0.0.0/33': the prefix length must be 0-32");
    EXPECT_FALSE(Cidr::parse("10.0.0.0/", &error));
    EXPECT_FALSE(Cidr::parse("example.com", &error));
    EXPECT_EQ(error, "'example.com' is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1/128)");
    EXPECT_FALSE(Cidr::parse("::1/129", &error));
}

}  // namespace
}  // namespace hotgate

// What the upstream is told about the client: its address, scheme and host stated by hotgate, so
// a client cannot spoof them to an upstream's fraud checks, unless its peer is a trusted proxy
// (listeners[].trusted_proxies); and an X-Request-Id on every request.
#include <gtest/gtest.h>

#include <regex>

#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

class ForwardingTest : public GatewayFixture {
protected:
    // The request the upstream saw for GET /headers with Host "test" and `headers`.
    TestUpstream::SeenRequest forwardedFor(std::map<std::string, std::string> headers) {
        headers.emplace("Host", "test");
        HttpClient client(port());
        auto reply = client.get("/headers", headers);
        EXPECT_TRUE(reply.ok() && reply.status() == 200u) << reply.error();
        auto seen = upstream_.lastRequest();
        EXPECT_TRUE(seen.has_value());
        return seen.value_or(TestUpstream::SeenRequest{});
    }

    const std::map<std::string, std::string> spoofed_{{"X-Forwarded-For", "203.0.113.7"},
                                                      {"X-Forwarded-Proto", "https"},
                                                      {"X-Forwarded-Host", "evil.example"},
                                                      {"Forwarded", "for=203.0.113.7"},
                                                      {"X_Forwarded_For", "203.0.113.8"}};
};

TEST_F(ForwardingTest, AClientCannotSpoofItsAddressSchemeOrHost) {
    ASSERT_TRUE(startGateway());
    const auto seen = forwardedFor(spoofed_);
    EXPECT_EQ(seen.values("x-forwarded-for"), std::vector<std::string>{"127.0.0.1"});
    EXPECT_EQ(seen.values("x-forwarded-proto"), std::vector<std::string>{"http"});
    EXPECT_EQ(seen.values("x-forwarded-host"), std::vector<std::string>{"test"});
    EXPECT_EQ(seen.values("forwarded"), std::vector<std::string>{"for=127.0.0.1;proto=http;host=test"});
    EXPECT_FALSE(seen.has("x_forwarded_for"));
}

TEST_F(ForwardingTest, ATrustedProxyHasThisHopAppendedAndItsSchemeAndHostKept) {
    config_.trusted_proxies = {"10.0.0.0/8", "127.0.0.0/8"};
    ASSERT_TRUE(startGateway());
    const auto seen = forwardedFor(spoofed_);
    EXPECT_EQ(seen.values("x-forwarded-for"), std::vector<std::string>{"203.0.113.7, 127.0.0.1"});
    EXPECT_EQ(seen.values("x-forwarded-proto"), std::vector<std::string>{"https"});
    EXPECT_EQ(seen.values("x-forwarded-host"), std::vector<std::string>{"evil.example"});
    EXPECT_EQ(seen.values("forwarded"),
              std::vector<std::string>{"for=203.0.113.7, for=127.0.0.1;proto=http;host=test"});
    EXPECT_FALSE(seen.has("x_forwarded_for"));
}

TEST_F(ForwardingTest, APeerOutsideTheTrustedRangesIsNotTrusted) {
    config_.trusted_proxies = {"10.0.0.0/8", "::1/128"};
    ASSERT_TRUE(startGateway());
    const auto seen = forwardedFor(spoofed_);
    EXPECT_EQ(seen.values("x-forwarded-for"), std::vector<std::string>{"127.0.0.1"});
}

TEST_F(ForwardingTest, TrustedProxiesThatAreNotRangesAreRefusedByName) {
    config_.trusted_proxies = {"10.0.0.1/8"};
    auto file = gateway_.writeFile("bad.yaml", config_.toYaml());
    auto check = runCommand({hotgateBinary(), "--check-config", file.string()}, gateway_.dir(), 30s);
    EXPECT_NE(check.exit_code, 0);
    const std::string output = check.out + check.err;
    EXPECT_NE(output.find("listeners[public].trusted_proxies[0]: '10.0.0.1/8' has host bits set; the range is 10.0.0.0/8"),
              std::string::npos)
        << output;
}

TEST_F(ForwardingTest, EveryRequestCarriesARequestIdAndAWellFormedOneIsKept) {
    ASSERT_TRUE(startGateway());
    const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    const auto fresh = forwardedFor({});
    ASSERT_EQ(fresh.values("x-request-id").size(), 1u);
    EXPECT_TRUE(std::regex_match(fresh.values("x-request-id")[0], uuid)) << fresh.values("x-request-id")[0];
    const auto kept = forwardedFor({{"X-Request-Id", "pay-7f3a.1"}});
    EXPECT_EQ(kept.values("x-request-id"), std::vector<std::string>{"pay-7f3a.1"});
    const auto replaced = forwardedFor({{"X-Request-Id", "has space"}});
    ASSERT_EQ(replaced.values("x-request-id").size(), 1u);
    EXPECT_TRUE(std::regex_match(replaced.values("x-request-id")[0], uuid));
}

}  // namespace
}  // namespace hotgate::test

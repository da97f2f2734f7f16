// The fields the gateway owns toward the upstream: hop-by-hop removal, the client's address,
// scheme and host (replaced unless the peer is a trusted proxy), and X-Request-Id.
#include <gtest/gtest.h>

#include "proxy/forwarding_headers.h"

namespace hotgate {
namespace {

ClientFacts client(const char* address, bool tls = false, bool trusted = false) {
    return ClientFacts{asio::ip::make_address(address), tls, trusted};
}

http::request_header<> spoofed() {
    http::request_header<> request;
    request.set(http::field::host, "pay.example");
    request.insert("X-Forwarded-For", "6.6.6.6");
    request.insert("X-Forwarded-For", "7.7.7.7");
    request.set("X-Forwarded-Proto", "https");
    request.set("X-Forwarded-Host", "evil.example");
    request.set(http::field::forwarded, "for=6.6.6.6");
    request.set("X_Forwarded_For", "8.8.8.8");
    return request;
}

TEST(ForwardingHeaders, ReplaceWhatAnUntrustedClientSent) {
    auto request = spoofed();
    setForwardingHeaders(request, client("192.0.2.1", /*tls=*/true));
    EXPECT_EQ(request.count("X-Forwarded-For"), 1u);
    EXPECT_EQ(request["X-Forwarded-For"], "192.0.2.1");
    EXPECT_EQ(request["X-Forwarded-Proto"], "https");
    EXPECT_EQ(request["X-Forwarded-Host"], "pay.example");
    EXPECT_EQ(request[http::field::forwarded], "for=192.0.2.1;proto=https;host=pay.example");
    EXPECT_EQ(request.count("X_Forwarded_For"), 0u);

    http::request_header<> plain;
    plain.set(http::field::host, "[::1]:8080");
    setForwardingHeaders(plain, client("::1"));
    EXPECT_EQ(plain["X-Forwarded-Proto"], "http");
    EXPECT_EQ(plain[http::field::forwarded], "for=\"[::1]\";proto=http;host=\"[::1]:8080\"");
}

TEST(ForwardingHeaders, AppendForATrustedProxy) {
    auto request = spoofed();
    setForwardingHeaders(request, client("10.0.0.5", false, /*trusted=*/true));
    EXPECT_EQ(request["X-Forwarded-For"], "6.6.6.6, 7.7.7.7, 10.0.0.5");
    EXPECT_EQ(request["X-Forwarded-Proto"], "https");  // the proxy in front terminated TLS
    EXPECT_EQ(request["X-Forwarded-Host"], "evil.example");
    EXPECT_EQ(request[http::field::forwarded], "for=6.6.6.6, for=10.0.0.5;proto=http;host=pay.example");
}

TEST(ForwardingHeaders, TrustedPeerIsDecidedByRange) {
    const std::vector<Cidr> ranges{*Cidr::parse("10.0.0.0/8"), *Cidr::parse("::1")};
    EXPECT_TRUE(isTrustedPeer(asio::ip::make_address("10.9.8.7"), ranges));
    EXPECT_TRUE(isTrustedPeer(asio::ip::make_address("::1"), ranges));
    EXPECT_FALSE(isTrustedPeer(asio::ip::make_address("127.0.0.1"), ranges));
    EXPECT_FALSE(isTrustedPeer(asio::ip::make_address("10.9.8.7"), {}));
}

TEST(RequestId, KeptWhenWellFormedElseReplacedByAUuid) {
    http::request_header<> request;
    request.set("X-Request-Id", "abc-123_x.y");
    EXPECT_EQ(ensureRequestId(request), "abc-123_x.y");

    for (const char* bad : {"", "has space", "quote\"", "\xc3\xa9"}) {
        http::request_header<> replaced;
        replaced.set("X-Request-Id", bad);
        const auto id = ensureRequestId(replaced);
        EXPECT_NE(id, bad);
        EXPECT_EQ(replaced["X-Request-Id"], id);
    }
    http::request_header<> fresh, other;
    const auto id = ensureRequestId(fresh);
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[14], '4');  // version 4
    EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos);  // variant
    EXPECT_NE(ensureRequestId(other), id);
    EXPECT_FALSE(isWellFormedRequestId(std::string(129, 'a')));
}

TEST(HopByHop, RemovesConnectionNamedFieldsButNeverHost) {
    http::request_header<> request;
    request.set(http::field::host, "a");
    request.set(http::field::connection, "keep-alive, Host, X-Secret");
    request.set("X-Secret", "1");
    request.set("HTTP2-Settings", "AAMAAABkAAQAAP__");
    request.set(http::field::upgrade, "h2c");
    request.set(http::field::te, "trailers");
    eraseHopByHop(request, false);
    EXPECT_EQ(request[http::field::host], "a");
    for (const char* gone : {"Connection", "X-Secret", "HTTP2-Settings", "Upgrade", "TE"})
        EXPECT_EQ(request.count(gone), 0u) << gone;
}

}  // namespace
}  // namespace hotgate

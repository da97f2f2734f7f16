// The fields the gateway owns toward the upstream (makeUpstreamHead): hop-by-hop removal, the
// client's address, scheme and host (replaced unless the peer is a trusted proxy), X-Request-Id
// and the framing; and hop-by-hop removal on responses.
#include <gtest/gtest.h>

#include "proxy/forwarding_headers.h"

namespace hotgate {
namespace {

std::vector<std::string> valuesOf(const http::request_header<>& request, std::string_view name) {
    std::vector<std::string> out;
    for (auto [it, end] = request.equal_range(name); it != end; ++it) out.emplace_back(it->value());
    return out;
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

void upstreamHead(http::request_header<>& request, ClientFacts client,
                  http1::BodyFraming body = http1::BodyFraming::none()) {
    RequestTrace trace;
    makeUpstreamHead(request, client, /*websocket_upgrade=*/false, body, trace);
}

TEST(ForwardingHeaders, ReplaceWhatAnUntrustedClientSent) {
    auto request = spoofed();
    upstreamHead(request, ClientFacts{"192.0.2.1", "192.0.2.1", /*tls=*/true, false});
    EXPECT_EQ(valuesOf(request, "X-Forwarded-For"), std::vector<std::string>{"192.0.2.1"});
    EXPECT_EQ(valuesOf(request, "X-Forwarded-Proto"), std::vector<std::string>{"https"});
    EXPECT_EQ(valuesOf(request, "X-Forwarded-Host"), std::vector<std::string>{"pay.example"});
    EXPECT_EQ(valuesOf(request, "Forwarded"), std::vector<std::string>{"for=192.0.2.1;proto=https;host=pay.example"});
    EXPECT_EQ(request.count("X_Forwarded_For"), 0u);

    http::request_header<> plain;
    plain.set(http::field::host, "[::1]:8080");
    upstreamHead(plain, ClientFacts{"::1", forwardedNode(asio::ip::make_address("::1")), false, false});
    EXPECT_EQ(plain["X-Forwarded-Proto"], "http");
    EXPECT_EQ(plain[http::field::forwarded], "for=\"[::1]\";proto=http;host=\"[::1]:8080\"");
}

TEST(ForwardingHeaders, AppendForATrustedProxy) {
    auto request = spoofed();
    upstreamHead(request, ClientFacts{"10.0.0.5", "10.0.0.5", false, /*trusted=*/true});
    EXPECT_EQ(valuesOf(request, "X-Forwarded-For"), std::vector<std::string>{"6.6.6.6, 7.7.7.7, 10.0.0.5"});
    EXPECT_EQ(request["X-Forwarded-Proto"], "https");  // the proxy in front terminated TLS
    EXPECT_EQ(request["X-Forwarded-Host"], "evil.example");
    EXPECT_EQ(request[http::field::forwarded], "for=6.6.6.6, for=10.0.0.5;proto=http;host=pay.example");
    EXPECT_EQ(request.count("X_Forwarded_For"), 0u);
}

TEST(ForwardingHeaders, TrustedPeerIsDecidedByRange) {
    const std::vector<Cidr> ranges{*Cidr::parse("10.0.0.0/8"), *Cidr::parse("::1")};
    EXPECT_TRUE(isTrustedPeer(asio::ip::make_address("10.9.8.7"), ranges));
    EXPECT_TRUE(isTrustedPeer(asio::ip::make_address("::1"), ranges));
    EXPECT_FALSE(isTrustedPeer(asio::ip::make_address("127.0.0.1"), ranges));
    EXPECT_FALSE(isTrustedPeer(asio::ip::make_address("10.9.8.7"), {}));
    EXPECT_EQ(forwardedNode(asio::ip::make_address("10.9.8.7")), "10.9.8.7");
}

TEST(RequestId, KeptWhenOneWellFormedElseReplacedByAUuid) {
    const ClientFacts client{"192.0.2.1", "192.0.2.1", false, false};
    http::request_header<> request;
    request.set("X-Request-Id", "abc-123_x.y");
    upstreamHead(request, client);
    EXPECT_EQ(valuesOf(request, "X-Request-Id"), std::vector<std::string>{"abc-123_x.y"});

    for (const char* bad : {"", "has space", "quote\"", "\xc3\xa9"}) {
        http::request_header<> replaced;
        replaced.set("X-Request-Id", bad);
        upstreamHead(replaced, client);
        ASSERT_EQ(replaced.count("X-Request-Id"), 1u) << bad;
        EXPECT_NE(replaced["X-Request-Id"], bad);
    }
    http::request_header<> twice;
    twice.insert("X-Request-Id", "a");
    twice.insert("X-Request-Id", "b");
    upstreamHead(twice, client);
    ASSERT_EQ(twice.count("X-Request-Id"), 1u);
    EXPECT_EQ(twice["X-Request-Id"].size(), 36u);

    const auto id = newRequestId();
    const std::string text(id.data(), id.size());
    EXPECT_EQ(text[8], '-');
    EXPECT_EQ(text[14], '4');                                                   // version 4
    EXPECT_NE(std::string_view("89ab").find(text[19]), std::string_view::npos);  // variant
    EXPECT_NE(std::string(newRequestId().data(), 36), text);
    EXPECT_FALSE(isWellFormedRequestId(std::string(129, 'a')));
}

TEST(HopByHop, RemovesConnectionNamedFieldsButNeverHostAndWritesOurFraming) {
    http::request_header<> request;
    request.set(http::field::host, "a");
    request.set(http::field::connection, "keep-alive, Host, X-Secret, X-Request-Id");
    request.set("X-Secret", "1");
    request.set("X-Request-Id", "kept-unless-named");
    request.set("HTTP2-Settings", "AAMAAABkAAQAAP__");
    request.set(http::field::upgrade, "h2c");
    request.set(http::field::te, "trailers");
    request.insert(http::field::transfer_encoding, "identity");
    request.insert(http::field::transfer_encoding, "chunked");
    upstreamHead(request, ClientFacts{"192.0.2.1", "192.0.2.1", false, false}, http1::BodyFraming::ofLength(5));
    EXPECT_EQ(request[http::field::host], "a");
    for (const char* gone : {"Connection", "X-Secret", "HTTP2-Settings", "Upgrade", "TE", "Transfer-Encoding"})
        EXPECT_EQ(request.count(gone), 0u) << gone;
    EXPECT_NE(request["X-Request-Id"], "kept-unless-named");
    EXPECT_EQ(valuesOf(request, "Content-Length"), std::vector<std::string>{"5"});
    EXPECT_EQ(request.version(), 11u);

    http::response_header<> response;
    response.set(http::field::connection, "X-Secret");
    response.set("X-Secret", "1");
    response.set(http::field::keep_alive, "timeout=5");
    response.set("X-Kept", "2");
    eraseHopByHop(response, false);
    EXPECT_EQ(response.count("X-Secret") + response.count(http::field::keep_alive), 0u);
    EXPECT_EQ(response["X-Kept"], "2");
}

TEST(HopByHop, AWebSocketHandshakeKeepsUpgradeThoughConnectionListsIt) {
    http::request_header<> request;
    request.set(http::field::host, "a");
    request.set(http::field::connection, "keep-alive, Upgrade, X-Secret");
    request.set(http::field::upgrade, "websocket");
    request.set("X-Secret", "1");
    request.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    RequestTrace trace;
    makeUpstreamHead(request, ClientFacts{"192.0.2.1", "192.0.2.1", false, false}, /*websocket_upgrade=*/true,
                     http1::BodyFraming::none(), trace);
    EXPECT_EQ(valuesOf(request, "Upgrade"), std::vector<std::string>{"websocket"});
    EXPECT_EQ(valuesOf(request, "Connection"), std::vector<std::string>{"Upgrade"});
    EXPECT_EQ(request.count("X-Secret"), 0u);
    EXPECT_EQ(request[http::field::sec_websocket_key], "dGhlIHNhbXBsZSBub25jZQ==");

    http::request_header<> plain;
    plain.set(http::field::connection, "Upgrade");
    plain.set(http::field::upgrade, "websocket");
    makeUpstreamHead(plain, ClientFacts{"192.0.2.1", "192.0.2.1", false, false}, /*websocket_upgrade=*/false,
                     http1::BodyFraming::none(), trace);
    EXPECT_EQ(plain.count(http::field::upgrade) + plain.count(http::field::connection), 0u);
}

}  // namespace
}  // namespace hotgate

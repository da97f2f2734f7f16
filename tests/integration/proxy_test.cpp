// Proxying through the real hotgate: methods, streamed bodies both ways, keep-alive on both
// sides, forwarded and hop-by-hop headers, and the version header on every response.
#include <gtest/gtest.h>

#include <regex>

#include "gateway_fixture.h"
#include "support/fnv1a.h"

namespace hotgate::test {
namespace {

// Deterministic bytes covering every octet value, so a proxy that mangles any byte shows.
std::string patternBody(std::size_t size) {
    std::string body(size, '\0');
    std::uint32_t x = 2463534242u;
    for (auto& c : body) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x & 0xff);
    }
    return body;
}

std::string hashSummary(const std::string& body) {
    Fnv1a64 digest;
    digest.update(body);
    return digest.summary() + "\n";
}

// A request with a hand-framed chunked body of `piece`-sized chunks.
std::string chunkedRequest(const std::string& target, const std::string& body, std::size_t piece) {
    std::string out = "POST " + target + " HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
    char size_line[32];
    for (std::size_t off = 0; off < body.size(); off += piece) {
        std::size_t n = std::min(piece, body.size() - off);
        std::snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
        out += size_line;
        out.append(body, off, n);
        out += "\r\n";
    }
    return out + "0\r\n\r\n";
}

const std::regex kVersionFormat("[^/\\s]+/[^/\\s]+");

class ProxyTest : public GatewayFixture {};

TEST_F(ProxyTest, GetIsForwardedWithPathAndQueryUnchanged) {
    ASSERT_TRUE(startGateway());
    auto r = httpGet(port(), "/some/path?a=1&b=two%20words");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 200u);
    EXPECT_EQ(r.response.body(), "ok /some/path\n");
    auto seen = upstream_.lastRequest();
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->method, "GET");
    EXPECT_EQ(seen->target, "/some/path?a=1&b=two%20words");
}

TEST_F(ProxyTest, DirectResponseRouteNeverReachesUpstream) {
    ASSERT_TRUE(startGateway());
    auto r = httpGet(port(), "/direct");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 200u);
    EXPECT_EQ(r.response.body(), "direct\n");
    EXPECT_EQ(upstream_.requestHeadersSeen(), 0u);
}

TEST_F(ProxyTest, FirstMatchingRouteWinsByHostAndExactPath) {
    config_.routes.insert(config_.routes.begin(),
                          {{"tenant", "{ host: \"*.example.test\", path_prefix: /t/ }", "", 203, "tenant\n"},
                           {"exact", "{ path: /exact }", "", 202, "exact\n"}});
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    auto tenant = client.get("/t/x", {{"Host", "a.example.test"}});
    ASSERT_TRUE(tenant.ok()) << tenant.error();
    EXPECT_EQ(tenant.status(), 203u);
    auto other_host = client.get("/t/x", {{"Host", "other.test"}});
    ASSERT_TRUE(other_host.ok()) << other_host.error();
    EXPECT_EQ(other_host.status(), 200u);
    EXPECT_EQ(other_host.response.body(), "ok /t/x\n");
    auto exact = client.get("/exact");
    ASSERT_TRUE(exact.ok()) << exact.error();
    EXPECT_EQ(exact.status(), 202u);
    auto longer = client.get("/exact/more");
    ASSERT_TRUE(longer.ok()) << longer.error();
    EXPECT_EQ(longer.response.body(), "ok /exact/more\n") << "path: matches exactly, not as a prefix";
}

TEST_F(ProxyTest, UpstreamStatusIsPassedThrough) {
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    for (unsigned status : {201u, 404u, 500u, 503u}) {
        auto r = client.get("/status/" + std::to_string(status));
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_EQ(r.status(), status);
        EXPECT_EQ(r.response.body(), "status " + std::to_string(status) + "\n");
    }
}

TEST_F(ProxyTest, TenMegabytePostWithContentLengthIsStreamedIntact) {
    config_.max_body_bytes = "16MB";
    ASSERT_TRUE(startGateway());
    std::string body = patternBody(10 * 1024 * 1024);
    HttpClient client(port(), std::chrono::seconds(60));
    auto r = client.post("/hash", body);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 200u);
    EXPECT_EQ(r.response.body(), hashSummary(body));
}

TEST_F(ProxyTest, TenMegabyteChunkedPostIsStreamedIntact) {
    config_.max_body_bytes = "16MB";
    ASSERT_TRUE(startGateway());
    std::string body = patternBody(10 * 1024 * 1024 + 12345);
    HttpClient client(port(), std::chrono::seconds(60));
    auto r = client.sendRaw(chunkedRequest("/hash", body, 100000));
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 200u);
    EXPECT_EQ(r.response.body(), hashSummary(body));
}

TEST_F(ProxyTest, EchoReturnsExactlyTheBytesSent) {
    config_.max_body_bytes = "16MB";
    ASSERT_TRUE(startGateway());
    HttpClient client(port(), std::chrono::seconds(60));
    std::string body = patternBody(3 * 1024 * 1024 + 7);
    auto by_length = client.post("/echo", body);
    ASSERT_TRUE(by_length.ok()) << by_length.error();
    EXPECT_EQ(by_length.status(), 200u);
    EXPECT_TRUE(by_length.response.body() == body) << "Content-Length echo differs, got "
                                                     << by_length.response.body().size() << " bytes";
    auto chunked = client.sendRaw(chunkedRequest("/echo", body, 4096));
    ASSERT_TRUE(chunked.ok()) << chunked.error();
    EXPECT_EQ(chunked.status(), 200u);
    EXPECT_TRUE(chunked.response.body() == body) << "chunked echo differs, got "
                                                   << chunked.response.body().size() << " bytes";
}

TEST_F(ProxyTest, ChunkedResponseIsRelayedWhole) {
    ASSERT_TRUE(startGateway());
    auto r = httpGet(port(), "/chunked?n=200&size=1000");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 200u);
    ASSERT_EQ(r.response.body().size(), 200000u);
    for (std::size_t i = 0; i < 200; ++i)
        ASSERT_EQ(r.response.body().substr(i * 1000, 1000), std::string(1000, static_cast<char>('a' + i % 26)))
            << "chunk " << i;
}

TEST_F(ProxyTest, KeepAliveReusesOneConnectionOnEachSide) {
    ASSERT_TRUE(startGateway());
    constexpr int kRequests = 20;
    HttpClient client(port());
    for (int i = 0; i < kRequests; ++i) {
        auto r = client.get("/ka/" + std::to_string(i));
        ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.error();
        ASSERT_EQ(r.status(), 200u);
        ASSERT_EQ(r.response.body(), "ok /ka/" + std::to_string(i) + "\n");
    }
    EXPECT_EQ(client.connects(), 1) << "the gateway closed the client's keep-alive connection";
    EXPECT_EQ(upstream_.requestsCompleted(), static_cast<std::uint64_t>(kRequests));
    EXPECT_EQ(upstream_.connectionsAccepted(), 1u) << "upstream connections were not pooled";
}

TEST_F(ProxyTest, UpstreamClosingItsConnectionIsNotAnError) {
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    auto closing = client.get("/close");
    ASSERT_TRUE(closing.ok()) << closing.error();
    EXPECT_EQ(closing.status(), 200u);
    auto next = client.get("/after-close");
    ASSERT_TRUE(next.ok()) << next.error();
    EXPECT_EQ(next.status(), 200u);
    EXPECT_EQ(next.response.body(), "ok /after-close\n");
    EXPECT_EQ(upstream_.connectionsAccepted(), 2u);
}

TEST_F(ProxyTest, ForwardedForAndProtoAreAdded) {
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    auto r = client.get("/headers");
    ASSERT_TRUE(r.ok()) << r.error();
    auto seen = upstream_.lastRequest();
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->values("x-forwarded-for"), std::vector<std::string>{"127.0.0.1"});
    EXPECT_EQ(seen->values("x-forwarded-proto"), std::vector<std::string>{"http"});
    // The upstream's /headers reply shows what it saw; check the reply made it back intact.
    EXPECT_NE(r.response.body().find("127.0.0.1"), std::string::npos) << r.response.body();

    // A client's own value is replaced: only a trusted proxy's is appended to (forwarding_test.cpp).
    auto spoofed = client.get("/headers", {{"X-Forwarded-For", "203.0.113.7"}});
    ASSERT_TRUE(spoofed.ok()) << spoofed.error();
    seen = upstream_.lastRequest();
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->values("x-forwarded-for"), std::vector<std::string>{"127.0.0.1"});
}

TEST_F(ProxyTest, HopByHopHeadersAreNotForwarded) {
    ASSERT_TRUE(startGateway());
    std::string request =
        "GET /headers HTTP/1.1\r\n"
        "Host: test\r\n"
        "Connection: keep-alive, X-Custom-Hop\r\n"
        "Keep-Alive: timeout=5\r\n"
        "Proxy-Connection: keep-alive\r\n"
        "TE: trailers\r\n"
        "Trailer: X-Checksum\r\n"
        "Upgrade: h2c\r\n"
        "X-Custom-Hop: secret\r\n"
        "X-End-To-End: kept\r\n"
        "\r\n";
    HttpClient client(port());
    auto r = client.sendRaw(request);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 200u);
    auto seen = upstream_.lastRequest();
    ASSERT_TRUE(seen.has_value());
    for (const char* hop : {"keep-alive", "proxy-connection", "te", "trailer", "upgrade", "x-custom-hop"})
        EXPECT_FALSE(seen->has(hop)) << hop << " was forwarded; upstream saw:\n" << r.response.body();
    // The gateway may speak its own Connection header to the upstream, but not the client's.
    for (const auto& value : seen->values("connection")) {
        std::string lower;
        for (char c : value) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        EXPECT_EQ(lower.find("x-custom-hop"), std::string::npos) << "Connection: " << value;
        EXPECT_EQ(lower.find("upgrade"), std::string::npos) << "Connection: " << value;
    }
    EXPECT_EQ(seen->values("x-end-to-end"), std::vector<std::string>{"kept"});
}

// 1xx responses of the upstream (100 Continue, 103 Early Hints) reach the client in order, each
// once, before the final response, which is still read and relayed whole.
TEST_F(ProxyTest, InterimResponsesArePassedOnBeforeTheFinalOne) {
    ASSERT_TRUE(startGateway());
    auto reply = rawExchange(port(), "GET /interim?n=3 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(reply.connected);
    EXPECT_TRUE(reply.closed) << "no close after the final response; got:\n" << reply.data;
    EXPECT_EQ(responseCount(reply.data), 4) << reply.data;
    EXPECT_EQ(statusOf(reply.data), 100) << reply.data;
    const auto early_hints = reply.data.find("HTTP/1.1 103 ");
    const auto second_continue = reply.data.find("HTTP/1.1 100 ", 1);
    const auto final_response = reply.data.find("HTTP/1.1 200 ");
    ASSERT_NE(early_hints, std::string::npos) << reply.data;
    ASSERT_NE(second_continue, std::string::npos) << reply.data;
    ASSERT_NE(final_response, std::string::npos) << reply.data;
    EXPECT_LT(early_hints, second_continue);
    EXPECT_NE(reply.data.substr(early_hints, second_continue - early_hints).find("Link: </style.css>; rel=preload"),
              std::string::npos)
        << "the 103's Link header was not passed on:\n"
        << reply.data;
    EXPECT_LT(second_continue, final_response);
    EXPECT_EQ(reply.data.substr(reply.data.size() - 6), "final\n") << reply.data;
    EXPECT_EQ(upstream_.requestsCompleted(), 1u);
}

TEST_F(ProxyTest, EveryResponseCarriesTheVersionHeader) {
    ASSERT_TRUE(startGateway());
    std::vector<std::string> versions;
    auto check = [&](const std::string& what, int status, const std::string& version) {
        SCOPED_TRACE(what);
        EXPECT_TRUE(std::regex_match(version, kVersionFormat))
            << "x-hotgate-version \"" << version << "\" on the " << status << " response";
        versions.push_back(version);
    };

    HttpClient client(port());
    for (const char* target : {"/plain", "/status/404", "/status/500", "/direct", "/down/x", "/chunked?n=2&size=3"}) {
        auto r = client.get(target);
        ASSERT_TRUE(r.ok()) << target << ": " << r.error();
        check(target, static_cast<int>(r.status()), r.header("x-hotgate-version"));
    }
    auto bad = rawExchange(port(), "GARBAGE\r\n\r\n");
    check("400", statusOf(bad.data), headerOf(bad.data, "x-hotgate-version"));
    auto after = httpGet(port(), "/after-400");
    ASSERT_TRUE(after.ok()) << "the gateway stopped serving after a 400: " << after.error();
    check("after 400", static_cast<int>(after.status()), after.header("x-hotgate-version"));

    ASSERT_FALSE(versions.empty());
    for (const auto& v : versions) EXPECT_EQ(v, versions.front());
}

}  // namespace
}  // namespace hotgate::test

// The test upstream and clients on their own, without hotgate: when a gateway test fails,
// these passing shows the fault is in the gateway, not in the harness.
#include <gtest/gtest.h>

#include "support/blackhole_listener.h"
#include "support/fnv1a.h"
#include "support/gateway_process.h"
#include "support/http_client.h"
#include "support/prometheus_text.h"
#include "support/test_upstream.h"
#include "support/websocket_client.h"

namespace hotgate::test {
namespace {

TEST(TestUpstreamTest, ServesEveryEndpointOverOneConnection) {
    TestUpstream upstream;
    ASSERT_NE(upstream.port(), 0);
    HttpClient client(upstream.port());

    std::string body(11 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31);
    Fnv1a64 digest;
    digest.update(body);
    auto hash = client.post("/hash", body);
    ASSERT_TRUE(hash.ok()) << hash.error();
    EXPECT_EQ(hash.response.body(), digest.summary() + "\n");

    auto echo = client.post("/echo", body);
    ASSERT_TRUE(echo.ok()) << echo.error();
    EXPECT_TRUE(echo.response.body() == body);

    auto chunked_echo = client.sendRaw(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
    ASSERT_TRUE(chunked_echo.ok()) << chunked_echo.error();
    EXPECT_EQ(chunked_echo.response.body(), "helloabc");

    EXPECT_EQ(client.get("/chunked?n=3&size=2").response.body(), "aabbcc");
    EXPECT_EQ(client.get("/status/404").status(), 404u);
    EXPECT_NE(client.get("/headers", {{"X-A", "b"}}).response.body().find("X-A: b\n"), std::string::npos);
    EXPECT_EQ(client.get("/slow?ms=50").response.body(), "slow\n");
    EXPECT_EQ(client.get("/x?y=1").response.body(), "ok /x\n");

    EXPECT_EQ(client.connects(), 1);
    EXPECT_EQ(upstream.connectionsAccepted(), 1u);
    EXPECT_EQ(upstream.requestsCompleted(), 8u);
    ASSERT_TRUE(upstream.lastRequest().has_value());
    EXPECT_EQ(upstream.lastRequest()->target, "/x?y=1");
}

TEST(TestUpstreamTest, FailureEndpointsFailAsDocumented) {
    TestUpstream upstream;
    auto reset = httpGet(upstream.port(), "/reset");
    EXPECT_FALSE(reset.ok());
    auto half = httpGet(upstream.port(), "/halfheader");
    EXPECT_FALSE(half.ok());
    auto raw = rawExchange(upstream.port(), "GET /close HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(statusOf(raw.data), 200);
    EXPECT_TRUE(raw.closed);
}

TEST(TestUpstreamTest, WebSocketEcho) {
    TestUpstream upstream;
    WebSocketClient ws(upstream.port());
    ASSERT_TRUE(ws.handshake("/ws")) << ws.error();
    ASSERT_TRUE(ws.send(std::string(100000, 'q'), true)) << ws.error();
    std::string message;
    bool binary = false;
    ASSERT_TRUE(ws.receive(message, binary)) << ws.error();
    EXPECT_EQ(message, std::string(100000, 'q'));
    EXPECT_TRUE(binary);
    EXPECT_TRUE(ws.close()) << ws.error();
}

TEST(TestUpstreamTest, StopListeningRefusesAndDropsConnections) {
    TestUpstream upstream;
    HttpClient client(upstream.port());
    ASSERT_TRUE(client.get("/a").ok());
    upstream.stopListening();
    EXPECT_TRUE(client.peerClosed(2s));
    EXPECT_FALSE(canConnect(upstream.port()));
}

TEST(TestUpstreamTest, BlackholeListenerLeavesConnectsHanging) {
    BlackholeListener blackhole;
    ASSERT_NE(blackhole.port(), 0);
    EXPECT_FALSE(canConnect(blackhole.port(), 500ms));
}

TEST(TestUpstreamTest, PrometheusTextParsing) {
    auto samples = parsePrometheusText(
        "# HELP x_total a counter\n"
        "x_total{a=\"1\",version=\"v/h\"} 3\n"
        "x_total{a=\"2\",esc=\"q\\\"b\"} 4 1700000000\n"
        "y 1.5\n");
    EXPECT_EQ(sumSamples(samples, "x_total"), 7);
    EXPECT_EQ(sumSamples(samples, "x_total", {{"a", "1"}}), 3);
    EXPECT_EQ(sumSamples(samples, "x_total", {{"esc", "q\"b"}}), 4);
    EXPECT_EQ(sumSamples(samples, "y"), 1.5);
}

}  // namespace
}  // namespace hotgate::test

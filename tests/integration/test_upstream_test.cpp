// The test upstream and clients on their own, without hotgate: when a gateway test fails,
// these passing shows the fault is in the gateway, not in the harness.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <stdexcept>
#include <thread>

#include "support/blackhole_listener.h"
#include "support/fnv1a.h"
#include "support/gateway_process.h"
#include "support/http_client.h"
#include "support/prometheus_text.h"
#include "support/test_upstream.h"
#include "support/websocket_client.h"

namespace hotgate::test {
namespace {

using Clock = std::chrono::steady_clock;

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (!condition()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

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

TEST(TestUpstreamTest, ResetReadsTheWholeRequestFirst) {
    TestUpstream upstream;
    RawConnection connection;
    ASSERT_TRUE(connection.connect(upstream.port()));
    ASSERT_TRUE(connection.send("POST /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello"));
    EXPECT_FALSE(connection.peerClosed(300ms)) << "reset before the body was complete";
    EXPECT_EQ(upstream.requestHeadersSeen(), 1u);
    EXPECT_EQ(upstream.requestsCompleted(), 0u);
    ASSERT_TRUE(connection.send("world"));
    auto reply = connection.readUntilClose();
    EXPECT_TRUE(reply.reset);
    EXPECT_EQ(reply.data, "");
    EXPECT_EQ(upstream.requestsCompleted(), 1u);
}

TEST(TestUpstreamTest, FlakyResetsTheFirstRequestsOfAKeyThenAnswers) {
    TestUpstream upstream;
    const std::string request = "POST /flaky?key=a&fail=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    for (int i = 0; i < 2; ++i) {
        auto reply = rawExchange(upstream.port(), request);
        EXPECT_TRUE(reply.reset) << "request " << i;
        EXPECT_EQ(reply.data, "") << "request " << i;
        EXPECT_EQ(upstream.requestsCompleted(), i + 1u) << "the body is read before the reset";
    }
    HttpClient client(upstream.port());
    for (int i = 0; i < 2; ++i) {
        auto ok = client.post("/flaky?key=a&fail=2", "hello");
        ASSERT_TRUE(ok.ok()) << ok.error();
        EXPECT_EQ(ok.response.body(), "flaky ok\n");
    }
    EXPECT_EQ(client.connects(), 1);

    // Keys count separately; fail defaults to 1.
    EXPECT_FALSE(httpGet(upstream.port(), "/flaky?key=b").ok());
    EXPECT_EQ(httpGet(upstream.port(), "/flaky?key=b").response.body(), "flaky ok\n");
    // Counts are per upstream.
    TestUpstream other;
    EXPECT_FALSE(httpGet(other.port(), "/flaky?key=a&fail=2").ok());
    EXPECT_EQ(upstream.requestsTo("/flaky?key=a"), 4u);
    EXPECT_EQ(other.requestsTo("/flaky?key=a"), 1u);
}

TEST(TestUpstreamTest, ResponseDelayHoldsOneResponseWhileOtherConnectionsAreServed) {
    TestUpstream upstream;
    upstream.setResponseDelay(1000ms);
    const auto start = Clock::now();
    auto held = std::async(std::launch::async, [&] { return httpGet(upstream.port(), "/status/201"); });
    // Once the first request is read its delay is fixed; a second connection is answered at once.
    ASSERT_TRUE(eventually([&] { return upstream.requestsCompleted() == 1; }));
    upstream.setResponseDelay(0ms);
    const auto quick_start = Clock::now();
    auto quick = httpGet(upstream.port(), "/quick");
    const auto quick_elapsed = Clock::now() - quick_start;
    ASSERT_TRUE(quick.ok()) << quick.error();
    EXPECT_EQ(quick.response.body(), "ok /quick\n");
    EXPECT_LT(quick_elapsed, 500ms);
    EXPECT_EQ(held.wait_for(0s), std::future_status::timeout) << "the delayed response came early";

    auto delayed = held.get();
    ASSERT_TRUE(delayed.ok()) << delayed.error();
    EXPECT_EQ(delayed.status(), 201u);
    EXPECT_GE(Clock::now() - start, 1000ms);

    // Streamed /echo is delayed too.
    upstream.setResponseDelay(300ms);
    HttpClient client(upstream.port());
    const auto echo_start = Clock::now();
    auto echo = client.post("/echo", "delayed body");
    ASSERT_TRUE(echo.ok()) << echo.error();
    EXPECT_EQ(echo.response.body(), "delayed body");
    EXPECT_GE(Clock::now() - echo_start, 300ms);
}

TEST(TestUpstreamTest, CloseConnectionsCutsAResponseDelayShort) {
    TestUpstream upstream;
    upstream.setResponseDelay(30s);
    RawConnection connection;
    ASSERT_TRUE(connection.connect(upstream.port()));
    ASSERT_TRUE(connection.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_TRUE(eventually([&] { return upstream.requestsCompleted() == 1; }));
    upstream.closeConnections();
    EXPECT_TRUE(connection.peerClosed(2s));
    EXPECT_TRUE(eventually([&] { return upstream.connectionsOpen() == 0; }, 2s));
}

TEST(TestUpstreamTest, ForcedStatusAnswersEveryPathButWebSocket) {
    TestUpstream upstream;
    HttpClient client(upstream.port());
    upstream.setForcedStatus(503);
    for (const char* target : {"/x", "/status/200", "/reset", "/flaky?key=f", "/halfheader"}) {
        auto forced = client.get(target);
        ASSERT_TRUE(forced.ok()) << target << ": " << forced.error();
        EXPECT_EQ(forced.status(), 503u) << target;
        EXPECT_EQ(forced.response.body(), "forced 503\n") << target;
    }
    auto echo = client.post("/echo", "body");
    ASSERT_TRUE(echo.ok()) << echo.error();
    EXPECT_EQ(echo.status(), 503u);
    EXPECT_EQ(client.connects(), 1) << "keep-alive is kept";
    EXPECT_EQ(upstream.requestsCompleted(), 6u);

    WebSocketClient ws(upstream.port());
    EXPECT_TRUE(ws.handshake("/ws")) << ws.error();

    upstream.setForcedStatus(0);
    // The forced /flaky request did not count: the first real one still resets.
    EXPECT_FALSE(httpGet(upstream.port(), "/flaky?key=f").ok());
    EXPECT_EQ(client.get("/x").response.body(), "ok /x\n");
    EXPECT_THROW(upstream.setForcedStatus(42), std::invalid_argument);
    EXPECT_THROW(upstream.setForcedStatus(600), std::invalid_argument);
}

TEST(TestUpstreamTest, RequestsToCountsByTargetPrefix) {
    TestUpstream upstream;
    HttpClient client(upstream.port());
    for (const char* target : {"/a/1", "/a/2", "/ab", "/b?x=1"}) ASSERT_TRUE(client.get(target).ok()) << target;
    EXPECT_FALSE(httpGet(upstream.port(), "/reset").ok());
    EXPECT_EQ(upstream.requestsTo("/a"), 3u);
    EXPECT_EQ(upstream.requestsTo("/a/"), 2u);
    EXPECT_EQ(upstream.requestsTo("/b?x="), 1u);
    EXPECT_EQ(upstream.requestsTo("/reset"), 1u);
    EXPECT_EQ(upstream.requestsTo("/"), 5u);
    EXPECT_EQ(upstream.requestsTo("/c"), 0u);
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

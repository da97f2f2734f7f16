// Limits and timeouts: each violation gets its status with a one-line cause, and moves the
// matching counter on the admin /metrics.
#include <gtest/gtest.h>

#include "gateway_fixture.h"
#include "support/blackhole_listener.h"

namespace hotgate::test {
namespace {

const std::string kRejected = "hotgate_rejected_requests_total";

class LimitsTest : public GatewayFixture {
protected:
    std::map<std::string, std::string> rejected(const std::string& reason) {
        return {{"listener", "public"}, {"reason", reason}};
    }

    // An error response the gateway wrote itself: a short cause in the body, and the version
    // header like every other response.
    static void expectErrorResponse(const RawReply& reply) {
        auto head_end = reply.data.find("\r\n\r\n");
        ASSERT_NE(head_end, std::string::npos) << reply.data;
        std::string body = reply.data.substr(head_end + 4);
        EXPECT_FALSE(body.empty()) << "error response without a cause in its body";
        EXPECT_LT(body.size(), 200u) << body;
        EXPECT_FALSE(headerOf(reply.data, "x-hotgate-version").empty()) << reply.data;
    }
};

TEST_F(LimitsTest, HeaderOverMaxHeaderBytesIs431) {
    config_.max_header_bytes = "1k";
    ASSERT_TRUE(startGateway());
    auto reply = rawExchange(port(), "GET /big HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(2000, 'a') +
                                         "\r\n\r\n");
    EXPECT_EQ(statusOf(reply.data), 431) << reply.data;
    expectErrorResponse(reply);
    EXPECT_EQ(upstream_.requestHeadersSeen(), 0u);
    EXPECT_TRUE(metricReaches(kRejected, rejected("header_too_large"), 1));
    // Under the limit still works.
    auto ok = httpGet(port(), "/small");
    ASSERT_TRUE(ok.ok()) << ok.error();
    EXPECT_EQ(ok.status(), 200u);
}

TEST_F(LimitsTest, ContentLengthOverMaxBodyBytesIs413UpFront) {
    config_.max_body_bytes = "1k";
    ASSERT_TRUE(startGateway());
    // Only the header is sent: the answer must come from Content-Length alone.
    RawConnection connection;
    ASSERT_TRUE(connection.connect(port()));
    ASSERT_TRUE(connection.send("POST /hash HTTP/1.1\r\nHost: test\r\nContent-Length: 2000\r\n\r\n"));
    auto reply = connection.readResponse(5s);
    EXPECT_EQ(statusOf(reply.data), 413) << reply.data;
    expectErrorResponse(reply);
    EXPECT_EQ(upstream_.requestHeadersSeen(), 0u);
    EXPECT_TRUE(metricReaches(kRejected, rejected("body_too_large"), 1));
}

TEST_F(LimitsTest, ChunkedBodyOverMaxBodyBytesIs413) {
    config_.max_body_bytes = "1k";
    ASSERT_TRUE(startGateway());
    std::string request = "POST /hash HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) request += "400\r\n" + std::string(1024, 'b') + "\r\n";
    request += "0\r\n\r\n";
    auto reply = rawExchange(port(), request);
    EXPECT_EQ(statusOf(reply.data), 413) << reply.data;
    EXPECT_EQ(upstream_.requestsCompleted(), 0u) << "the oversized body reached the upstream whole";
    EXPECT_TRUE(metricReaches(kRejected, rejected("body_too_large"), 1));
}

TEST_F(LimitsTest, BodyAtTheLimitIsAccepted) {
    config_.max_body_bytes = "1k";
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    auto r = client.post("/hash", std::string(1024, 'c'));
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 200u);
}

TEST_F(LimitsTest, IncompleteHeaderIs408AfterHeaderReadTimeout) {
    config_.header_read = "500ms";
    ASSERT_TRUE(startGateway());
    RawConnection connection;
    ASSERT_TRUE(connection.connect(port()));
    ASSERT_TRUE(connection.send("GET /slowloris HTTP/1.1\r\nHost: test\r\nX-Part: "));
    auto reply = connection.readUntilClose(10s);
    EXPECT_EQ(statusOf(reply.data), 408) << reply.data;
    expectErrorResponse(reply);
    EXPECT_TRUE(reply.closed) << "connection still open after the 408";
    EXPECT_EQ(upstream_.requestHeadersSeen(), 0u);
    EXPECT_TRUE(metricReaches(kRejected, rejected("header_timeout"), 1));
}

TEST_F(LimitsTest, IdleKeepAliveConnectionIsClosedAfterIdleTimeout) {
    config_.idle = "500ms";
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    auto r = client.get("/once");
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r.status(), 200u);
    EXPECT_TRUE(client.peerClosed(10s)) << "an idle keep-alive connection outlived timeouts.idle";
}

// Past 100 ms idle a connection parks (HttpConnection::park): the idle timeout still counts
// from the end of the last response, and a request after the park is served on the same one.
TEST_F(LimitsTest, ParkedKeepAliveConnectionServesItsNextRequestAndKeepsTheIdleTimeout) {
    config_.idle = "2500ms";
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    ASSERT_EQ(client.get("/once").status(), 200u);
    std::this_thread::sleep_for(500ms);  // parked by now
    auto r = client.get("/once");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 200u);
    EXPECT_EQ(client.connects(), 1) << "the parked connection was not kept";
    const auto idle_since = std::chrono::steady_clock::now();
    EXPECT_FALSE(client.peerClosed(1800ms)) << "closed before timeouts.idle";
    EXPECT_TRUE(client.peerClosed(10s)) << "a parked connection outlived timeouts.idle";
    EXPECT_GE(std::chrono::steady_clock::now() - idle_since, 2400ms);
}

TEST_F(LimitsTest, MalformedRequestIs400AndCloses) {
    ASSERT_TRUE(startGateway());
    auto reply = rawExchange(port(), "GARBAGE\r\n\r\n");
    EXPECT_EQ(statusOf(reply.data), 400) << reply.data;
    expectErrorResponse(reply);
    EXPECT_TRUE(reply.closed);
    EXPECT_TRUE(metricReaches(kRejected, rejected("bad_request"), 1));
}

TEST_F(LimitsTest, ConnectionOverMaxConnectionsIs503AndCloses) {
    config_.max_connections = "2";
    ASSERT_TRUE(startGateway());
    // The readiness probe was a connection too: wait until the gateway has let it go.
    ASSERT_TRUE(eventually([&] { return metric("hotgate_active_connections", {{"listener", "public"}}) == 0; }))
        << "hotgate_active_connections did not fall to 0";

    HttpClient first(port());
    HttpClient second(port());
    for (auto* client : {&first, &second}) {
        auto r = client->get("/hold");
        ASSERT_TRUE(r.ok()) << r.error();
        ASSERT_EQ(r.status(), 200u);
    }
    auto reply = rawExchange(port(), "GET /third HTTP/1.1\r\nHost: test\r\n\r\n");
    EXPECT_EQ(statusOf(reply.data), 503) << reply.data;
    expectErrorResponse(reply);
    EXPECT_TRUE(reply.closed);
    EXPECT_TRUE(metricReaches(kRejected, rejected("max_connections"), 1));

    // The two held connections still work, and a slot freed is usable again.
    auto still = first.get("/still");
    ASSERT_TRUE(still.ok()) << still.error();
    EXPECT_EQ(still.status(), 200u);
    EXPECT_EQ(first.connects(), 1);
    second.close();
    EXPECT_TRUE(eventually([&] {
        auto r = httpGet(port(), "/again");
        return r.ok() && r.status() == 200u;
    })) << "a freed connection slot was not reusable";
}

TEST_F(LimitsTest, UpstreamRefusingConnectionsIs502Or503) {
    ASSERT_TRUE(startGateway());
    auto r = httpGet(port(), "/down/x");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r.status() == 502u || r.status() == 503u) << r.status();
    EXPECT_FALSE(r.response.body().empty());
    EXPECT_TRUE(metricReaches("hotgate_upstream_connect_errors_total", {{"cluster", "dead"}}, 1));
    // Repeated: first 502, then maybe 503 once the endpoint is marked down; never a hang.
    for (int i = 0; i < 3; ++i) {
        auto again = httpGet(port(), "/down/y");
        ASSERT_TRUE(again.ok()) << again.error();
        EXPECT_TRUE(again.status() == 502u || again.status() == 503u) << again.status();
    }
}

TEST_F(LimitsTest, UpstreamThatStopsListeningIs502Or503) {
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    auto before = client.get("/before");
    ASSERT_TRUE(before.ok()) << before.error();
    ASSERT_EQ(before.status(), 200u);
    upstream_.stopListening();  // also drops the connection the gateway pooled
    auto after = client.get("/after");
    ASSERT_TRUE(after.ok()) << after.error();
    EXPECT_TRUE(after.status() == 502u || after.status() == 503u) << after.status();
}

TEST_F(LimitsTest, UpstreamResetBeforeResponseIs502) {
    ASSERT_TRUE(startGateway());
    auto r = httpGet(port(), "/reset");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 502u);
    EXPECT_EQ(upstream_.requestHeadersSeen(), 1u) << "a reset request must not be retried";
}

TEST_F(LimitsTest, UpstreamClosingMidHeaderIs502) {
    ASSERT_TRUE(startGateway());
    auto r = httpGet(port(), "/halfheader");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 502u);
}

TEST_F(LimitsTest, UpstreamConnectTimeoutIs504) {
    BlackholeListener blackhole;
    ASSERT_NE(blackhole.port(), 0) << "could not fill a loopback accept queue";
    config_.upstream_connect = "500ms";
    config_.routes.insert(config_.routes.begin(), {"hole", "{ path_prefix: /hole/ }", "blackhole", 0, ""});
    config_.clusters.push_back({"blackhole", {"127.0.0.1:" + std::to_string(blackhole.port())}, 64});
    ASSERT_TRUE(startGateway());
    auto r = httpGet(port(), "/hole/x", 15s);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 504u);
    EXPECT_FALSE(r.header("x-hotgate-version").empty());
    EXPECT_TRUE(metricReaches("hotgate_upstream_timeouts_total", {{"cluster", "blackhole"}, {"phase", "connect"}}, 1));
}

TEST_F(LimitsTest, NoResponseHeaderWithinUpstreamResponseIs504) {
    config_.upstream_response = "500ms";
    ASSERT_TRUE(startGateway());
    auto r = httpGet(port(), "/slow?ms=5000", 15s);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.status(), 504u);
    EXPECT_FALSE(r.header("x-hotgate-version").empty());
    EXPECT_TRUE(metricReaches("hotgate_upstream_timeouts_total", {{"cluster", "backend"}, {"phase", "response"}}, 1));
    // A response within the limit still passes.
    auto quick = httpGet(port(), "/slow?ms=10");
    ASSERT_TRUE(quick.ok()) << quick.error();
    EXPECT_EQ(quick.status(), 200u);
}

}  // namespace
}  // namespace hotgate::test

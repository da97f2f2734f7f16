// Payment-safe retries end to end (clusters[].retries, docs/routing.md): a request goes again
// only when the upstream cannot have acted on it, or when acting twice is harmless, and never
// beyond the retry budget. The test upstream counts what it received.
#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class RetryTest : public GatewayFixture {
protected:
    // Routes /retry/ to the test upstream through a cluster "retried" with `extra` keys.
    void addRetried(const std::string& extra, int max_idle = 64) {
        GatewayConfig::Cluster cluster{"retried", {upstream_.address()}, max_idle};
        cluster.extra = extra;
        config_.clusters.push_back(cluster);
        config_.routes.insert(config_.routes.begin(), {"retried", "{ path_prefix: /flaky }", "retried", 0, ""});
        config_.routes.insert(config_.routes.begin(), {"retried-reset", "{ path_prefix: /reset }", "retried", 0, ""});
    }
};

TEST_F(RetryTest, APooledConnectionTheUpstreamClosedCostsTheClientNothing) {
    addRetried("");
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(client.get("/flaky?key=warm" + std::to_string(i) + "&fail=0").status(), 200u);
        upstream_.closeConnections();  // the pooled connection dies between requests
    }
    EXPECT_EQ(upstream_.requestsTo("/flaky"), 5u);
}

TEST_F(RetryTest, AGetLostOnAPooledConnectionGoesOnceMoreOnANewOne) {
    addRetried("");
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    ASSERT_EQ(client.get("/flaky?key=w&fail=0").status(), 200u);  // pools a connection
    // The upstream reads the request on the pooled connection and dies without answering.
    auto result = client.get("/flaky?key=g");
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_EQ(result.status(), 200u);
    EXPECT_EQ(result.response.body(), "flaky ok\n");
    EXPECT_EQ(upstream_.requestsTo("/flaky?key=g"), 2u);
}

TEST_F(RetryTest, APostTheUpstreamReceivedBeforeDyingIsNotRetried) {
    addRetried("    retries: { attempts: 3, on: [connect-failure, refused, reset-before-response, gateway-error] }\n");
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    ASSERT_EQ(client.get("/flaky?key=w&fail=0").status(), 200u);  // pools a connection
    const auto completed_before = upstream_.requestsCompleted();
    auto result = client.post("/flaky?key=pay", "amount=100");
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_EQ(result.status(), 502u);
    EXPECT_EQ(upstream_.requestsTo("/flaky?key=pay"), 1u);  // never twice
    EXPECT_EQ(upstream_.requestsCompleted(), completed_before + 1);  // it had the whole body
    // Not over a fresh connection either.
    auto fresh = HttpClient(port()).post("/flaky?key=pay2", "amount=100");
    EXPECT_EQ(fresh.status(), 502u);
    EXPECT_EQ(upstream_.requestsTo("/flaky?key=pay2"), 1u);
}

TEST_F(RetryTest, APostWithAnIdempotencyKeyIsRetriedAndSaysHowManyAttempts) {
    addRetried("    retries: { attempts: 2, on: [reset-before-response], backoff: 5ms }\n", 0);
    ASSERT_TRUE(startGateway());
    auto result = HttpClient(port()).post("/flaky?key=pay", "amount=100", {{"Idempotency-Key", "order-17"}});
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_EQ(result.status(), 200u);
    EXPECT_EQ(result.header("x-hotgate-attempts"), "2");
    EXPECT_EQ(upstream_.requestsTo("/flaky?key=pay"), 2u);
    EXPECT_TRUE(metricReaches("hotgate_upstream_retries_total",
                              {{"cluster", "retried"}, {"reason", "reset-before-response"}}, 1));
}

TEST_F(RetryTest, AGatewayErrorIsRetriedForAGetAndRelayedAsItCameForAPost) {
    addRetried("    retries: { attempts: 3, on: [gateway-error], backoff: 1ms }\n");
    upstream_.setForcedStatus(503);
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    auto get = client.get("/flaky?key=g");
    EXPECT_EQ(get.status(), 503u);
    EXPECT_EQ(get.response.body(), "forced 503\n");
    EXPECT_EQ(get.header("x-hotgate-attempts"), "3");
    EXPECT_EQ(upstream_.requestsTo("/flaky?key=g"), 3u);
    auto post = client.post("/flaky?key=p", "x");
    EXPECT_EQ(post.status(), 503u);
    EXPECT_EQ(post.header("x-hotgate-attempts"), "");
    EXPECT_EQ(upstream_.requestsTo("/flaky?key=p"), 1u);
}

TEST_F(RetryTest, APerTryTimeoutAbandonsASlowTryAndRetriesAnIdempotentRequest) {
    addRetried("    retries: { attempts: 2, on: [gateway-error], per_try_timeout: 200ms, backoff: 1ms }\n");
    upstream_.setResponseDelay(2s);
    ASSERT_TRUE(startGateway());
    const auto started = std::chrono::steady_clock::now();
    auto result = HttpClient(port()).get("/flaky?key=slow&fail=0");
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(result.ok()) << result.error();
    EXPECT_EQ(result.status(), 504u);
    EXPECT_EQ(result.header("x-hotgate-attempts"), "2");
    EXPECT_EQ(upstream_.requestsTo("/flaky?key=slow"), 2u);
    EXPECT_LT(took, 1500ms);
}

TEST_F(RetryTest, TheBudgetCapsRetriesAgainstAnUpstreamThatAlwaysFails) {
    addRetried("    retries: { attempts: 3, on: [reset-before-response], budget_percent: 20, backoff: 1ms }\n", 0);
    ASSERT_TRUE(startGateway());
    constexpr int kRequests = 100;
    HttpClient client(port());
    for (int i = 0; i < kRequests; ++i) EXPECT_EQ(client.get("/reset").status(), 502u);
    // Unbudgeted, 3 tries each would be 300. The budget allows 20% of the requests in its
    // 10 s window, and at least 5.
    const auto seen = upstream_.requestsTo("/reset");
    EXPECT_GE(seen, static_cast<std::uint64_t>(kRequests + 5));
    EXPECT_LE(seen, static_cast<std::uint64_t>(kRequests + kRequests * 20 / 100 + 1));
    EXPECT_TRUE(metricReaches("hotgate_upstream_retries_over_budget_total", {{"cluster", "retried"}}, 1));
}

}  // namespace
}  // namespace hotgate::test

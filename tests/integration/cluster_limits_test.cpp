// Static cluster limits end to end (clusters[].limits, docs/routing.md): with a limit of N and
// N+k requests held at once, exactly k get 503 naming the limit (body and x-hotgate-overflow),
// never reach the upstream, are counted in hotgate_cluster_overflow_total, and are held against
// no endpoint; once the held ones finish their counts are free again; and an apply that lowers
// a limit takes effect at once, on the counts of requests already in flight.
#include <future>
#include <vector>

#include "gateway_fixture.h"
#include "support/blackhole_listener.h"
#include "support/child_process.h"
#include "support/websocket_client.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class ClusterLimitsTest : public GatewayFixture {
protected:
    // Routes /slow to the test upstream through cluster "pay" with `extra` keys.
    void addPay(const std::string& extra, const std::string& endpoint = "", const std::string& prefix = "/slow") {
        GatewayConfig::Cluster cluster;
        cluster.name = "pay";
        cluster.endpoints = {endpoint.empty() ? upstream_.address() : endpoint};
        cluster.extra = extra;
        config_.clusters.push_back(cluster);
        config_.routes.insert(config_.routes.begin(), {"pay", "{ path_prefix: " + prefix + " }", "pay", 0, ""});
    }

    // `count` GETs of `target`, each on its own connection, all at once.
    std::vector<std::future<HttpResult>> sendAtOnce(int count, const std::string& target) {
        std::vector<std::future<HttpResult>> results;
        for (int i = 0; i < count; ++i)
            results.push_back(std::async(std::launch::async, [this, target] { return httpGet(port(), target, 20s); }));
        return results;
    }

    // Waits for every result; counts the statuses, and checks each 503 names `limit` of `max`.
    struct Outcome {
        int ok = 0;
        int overflowed = 0;
        int other = 0;
    };
    static Outcome collect(std::vector<std::future<HttpResult>>& results, const std::string& limit, int max,
                           unsigned other_status = 0) {
        Outcome outcome;
        for (auto& future : results) {
            const HttpResult result = future.get();
            EXPECT_TRUE(result.ok()) << result.error();
            if (result.status() == 200) {
                ++outcome.ok;
                EXPECT_EQ(result.header("x-hotgate-overflow"), "");
            } else if (result.status() == 503 && !result.header("x-hotgate-overflow").empty()) {
                ++outcome.overflowed;
                EXPECT_EQ(result.header("x-hotgate-overflow"), limit);
                EXPECT_EQ(result.response.body(), "cluster pay is at " + limit + " (" + std::to_string(max) + ")\n");
                EXPECT_FALSE(result.header("x-hotgate-version").empty());
            } else {
                ++outcome.other;
                if (other_status)
                    EXPECT_EQ(result.status(), other_status) << result.response.body();
                else
                    ADD_FAILURE() << "status " << result.status() << ": " << result.response.body();
            }
        }
        return outcome;
    }

    double overflows(const std::string& limit) {
        return metric("hotgate_cluster_overflow_total", {{"cluster", "pay"}, {"limit", limit}});
    }
};

// max_requests over two workers: the count is the process's. The overflow is neither retried
// (gateway-error is a retry condition here) nor an endpoint failure (one would eject it).
TEST_F(ClusterLimitsTest, MaxRequestsRefusesTheOverflowAndFreesItsCountsAfterwards) {
    constexpr int kLimit = 4;
    constexpr int kOver = 3;
    config_.workers = 2;
    addPay(
        "    limits: {max_requests: 4}\n"
        "    retries: {attempts: 3, on: [connect-failure, refused, gateway-error], backoff: 1ms}\n"
        "    outlier_detection: {consecutive_5xx: 1, consecutive_gateway_errors: 1}\n");
    ASSERT_TRUE(startGateway());

    auto held = sendAtOnce(kLimit, "/slow?ms=1500");
    ASSERT_TRUE(eventually([&] { return upstream_.requestsTo("/slow") >= kLimit; }))
        << "the upstream saw " << upstream_.requestsTo("/slow");
    auto extra = sendAtOnce(kOver, "/slow?ms=1");
    const Outcome refused = collect(extra, "max_requests", kLimit);
    EXPECT_EQ(refused.overflowed, kOver);
    const Outcome passed = collect(held, "max_requests", kLimit);
    EXPECT_EQ(passed.ok, kLimit);
    EXPECT_EQ(upstream_.requestsTo("/slow"), static_cast<std::uint64_t>(kLimit));  // no overflow was sent
    EXPECT_TRUE(
        metricReaches("hotgate_cluster_overflow_total", {{"cluster", "pay"}, {"limit", "max_requests"}}, kOver));
    EXPECT_EQ(overflows("max_requests"), kOver);
    EXPECT_EQ(overflows("max_connections"), 0);
    EXPECT_EQ(metric("hotgate_upstream_ejections_total", {{"cluster", "pay"}}), 0);
    EXPECT_EQ(metric("hotgate_upstream_retries_total", {{"cluster", "pay"}}), 0);

    // Every count came back: the limit's worth passes at once again, and one more does not.
    auto again = sendAtOnce(kLimit, "/slow?ms=1000");
    ASSERT_TRUE(eventually([&] { return upstream_.requestsTo("/slow") >= 2 * kLimit; }));
    auto one_more = sendAtOnce(1, "/slow?ms=1");
    EXPECT_EQ(collect(one_more, "max_requests", kLimit).overflowed, 1);
    EXPECT_EQ(collect(again, "max_requests", kLimit).ok, kLimit);
    HttpClient client(port());
    for (int i = 0; i < 10; ++i) EXPECT_EQ(client.get("/slow?ms=1").status(), 200u) << i;
}

// max_connections: the first N requests open the N connections, requests that would need one
// more get 503; those N connections then serve later requests from the pool.
TEST_F(ClusterLimitsTest, MaxConnectionsRefusesARequestThatNeedsOneMoreConnection) {
    constexpr int kLimit = 3;
    constexpr int kOver = 2;
    addPay(
        "    limits: {max_connections: 3}\n"
        "    outlier_detection: {consecutive_5xx: 1, consecutive_gateway_errors: 1}\n");
    ASSERT_TRUE(startGateway());

    auto held = sendAtOnce(kLimit, "/slow?ms=1500");
    ASSERT_TRUE(eventually([&] { return upstream_.requestsTo("/slow") >= kLimit; }));
    auto extra = sendAtOnce(kOver, "/slow?ms=1");
    EXPECT_EQ(collect(extra, "max_connections", kLimit).overflowed, kOver);
    EXPECT_EQ(collect(held, "max_connections", kLimit).ok, kLimit);
    EXPECT_EQ(upstream_.connectionsAccepted(), static_cast<std::uint64_t>(kLimit));
    EXPECT_TRUE(
        metricReaches("hotgate_cluster_overflow_total", {{"cluster", "pay"}, {"limit", "max_connections"}}, kOver));
    EXPECT_EQ(overflows("max_connections"), kOver);
    EXPECT_EQ(overflows("max_requests"), 0);
    EXPECT_EQ(metric("hotgate_upstream_ejections_total", {{"cluster", "pay"}}), 0);

    // The pooled connections take the limit's worth at once again, without a new connect. (A
    // connection goes back to the pool just after its response is written: let that happen.)
    std::this_thread::sleep_for(100ms);
    auto again = sendAtOnce(kLimit, "/slow?ms=500");
    EXPECT_EQ(collect(again, "max_connections", kLimit).ok, kLimit);
    EXPECT_EQ(upstream_.connectionsAccepted(), static_cast<std::uint64_t>(kLimit));

    // Connections the upstream closes give their counts back: new ones are opened instead.
    upstream_.closeConnections();
    ASSERT_TRUE(eventually([&] { return upstream_.connectionsOpen() == 0; }));
    auto fresh = sendAtOnce(kLimit, "/slow?ms=500");
    EXPECT_EQ(collect(fresh, "max_connections", kLimit).ok, kLimit);
    EXPECT_EQ(upstream_.connectionsAccepted(), static_cast<std::uint64_t>(2 * kLimit));
    EXPECT_EQ(overflows("max_connections"), kOver);
}

// max_pending_requests, against an endpoint whose connects hang (BlackholeListener): N+k
// requests at once, N wait for their connect until timeouts.upstream_connect (504), k get 503.
TEST_F(ClusterLimitsTest, MaxPendingRequestsRefusesRequestsBeyondTheConnectsInProgress) {
    constexpr int kLimit = 2;
    constexpr int kOver = 2;
    BlackholeListener blackhole;
    ASSERT_NE(blackhole.port(), 0) << "could not fill a loopback accept queue";
    config_.upstream_connect = "1500ms";
    addPay("    limits: {max_pending_requests: 2}\n    retries: {attempts: 1}\n",
           "127.0.0.1:" + std::to_string(blackhole.port()), "/hole");
    ASSERT_TRUE(startGateway());

    // All within the connect timeout: whichever come first wait, the rest overflow.
    auto first = sendAtOnce(kLimit + kOver, "/hole");
    const Outcome outcome = collect(first, "max_pending_requests", kLimit, 504);
    EXPECT_EQ(outcome.overflowed, kOver);
    EXPECT_EQ(outcome.other, kLimit);  // 504: connect timeout
    EXPECT_TRUE(metricReaches("hotgate_cluster_overflow_total", {{"cluster", "pay"}, {"limit", "max_pending_requests"}},
                              kOver));

    // The timed-out connects gave their counts back. (The endpoint is skipped for a second
    // after a failed connect: wait that out, so the requests try it again.)
    std::this_thread::sleep_for(1200ms);
    auto second = sendAtOnce(kLimit + kOver, "/hole");
    const Outcome again = collect(second, "max_pending_requests", kLimit, 504);
    EXPECT_EQ(again.overflowed, kOver);
    EXPECT_EQ(again.other, kLimit);
    EXPECT_EQ(overflows("max_pending_requests"), 2 * kOver);
}

// A WebSocket is a request in flight until its 101; its tunnel then holds a connection but no
// request. (max_requests is checked first: a request that overflows max_connections found
// the request count below its limit.)
TEST_F(ClusterLimitsTest, AnOpenTunnelHoldsAConnectionButNoRequest) {
    addPay("    limits: {max_requests: 1, max_connections: 1}\n", "", "/");
    ASSERT_TRUE(startGateway());
    WebSocketClient ws(port());
    ASSERT_TRUE(ws.handshake("/ws")) << ws.error();
    ASSERT_EQ(ws.handshakeResponse().result_int(), 101u);

    auto refused = sendAtOnce(1, "/plain");
    EXPECT_EQ(collect(refused, "max_connections", 1).overflowed, 1);
    ASSERT_TRUE(ws.send("still here", false)) << ws.error();
    std::string echoed;
    bool binary = true;
    ASSERT_TRUE(ws.receive(echoed, binary)) << ws.error();
    EXPECT_EQ(echoed, "still here");

    // The tunnel's end gives its connection back.
    ASSERT_TRUE(ws.close()) << ws.error();
    ASSERT_TRUE(eventually([&] { return upstream_.connectionsOpen() == 0; }));
    EXPECT_EQ(httpGet(port(), "/plain").status(), 200u);
    EXPECT_EQ(overflows("max_requests"), 0);
    EXPECT_EQ(overflows("max_connections"), 1);
}

// An apply that lowers max_requests takes effect in place, on the count of a request that
// started before it; one that turns it off lets everything through.
TEST_F(ClusterLimitsTest, AnApplyThatLowersTheLimitTakesEffectInPlace) {
    addPay("    limits: {max_requests: 3}\n");
    ASSERT_TRUE(startGateway());

    auto before = sendAtOnce(2, "/slow?ms=2000");
    ASSERT_TRUE(eventually([&] { return upstream_.requestsTo("/slow") >= 2; }));

    auto lowered = config_;
    lowered.bpffs_root = gateway_.writtenConfig().bpffs_root;
    lowered.clusters.back().extra = "    limits: {max_requests: 2}\n";
    auto applied = gwctl({"config", "apply", gateway_.writeFile("lowered.yaml", lowered.toYaml()).string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    EXPECT_TRUE(metricReaches("hotgate_config_applies_total", {{"result", "applied"}}, 1));  // in place

    // The two in flight (counted under the old config) hold the new limit.
    auto refused = sendAtOnce(1, "/slow?ms=1");
    EXPECT_EQ(collect(refused, "max_requests", 2).overflowed, 1);
    EXPECT_EQ(collect(before, "max_requests", 2).ok, 2);
    // Their counts came back: two pass at once under the new limit.
    auto after = sendAtOnce(2, "/slow?ms=300");
    EXPECT_EQ(collect(after, "max_requests", 2).ok, 2);

    auto off = lowered;
    off.clusters.back().extra = "    limits: {max_requests: off}\n";
    applied = gwctl({"config", "apply", gateway_.writeFile("off.yaml", off.toYaml()).string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    auto unlimited = sendAtOnce(6, "/slow?ms=300");
    EXPECT_EQ(collect(unlimited, "max_requests", 2).ok, 6);
    EXPECT_EQ(overflows("max_requests"), 1);
}

}  // namespace
}  // namespace hotgate::test

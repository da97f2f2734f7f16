// Load balancing end to end: a real hotgate in front of test upstreams, for each policy, and
// the consistent-hash placement through a live config change (across a binary upgrade:
// upgrade_test.cpp). docs/routing.md.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"
#include "keyed_upstreams.h"
#include "support/child_process.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class LbTest : public GatewayFixture {
protected:
    // A cluster "pair" over two extra upstreams, routed at /pair/, with more keys in `extra`.
    void addPair(const std::string& extra, const std::vector<std::string>& endpoints = {}) {
        GatewayConfig::Cluster cluster{"pair", endpoints, 64};
        if (cluster.endpoints.empty()) cluster.endpoints = {first_.address(), second_.address()};
        cluster.extra = extra;
        config_.clusters.push_back(cluster);
        config_.routes.insert(config_.routes.begin(), {"pair", "{ path_prefix: /pair/ }", "pair", 0, ""});
    }

    TestUpstream first_;
    TestUpstream second_;
};

TEST_F(LbTest, MaglevPlacesEveryKeyByItsTableInBothWorkersAndAfterAnApplyElsewhere) {
    constexpr int kKeys = 10000;
    KeyedUpstreams keyed(5);
    config_.workers = 2;
    keyed.addTo(config_, "hashed", "maglev");
    ASSERT_TRUE(startGateway());
    const auto expected = keyed.expectedPlacement(LbPolicy::Maglev, kKeys);

    ASSERT_EQ(KeyedUpstreams::sendKeys(port(), "before", kKeys), 0);
    EXPECT_EQ(keyed.misplaced("before", expected), std::vector<int>{});

    // An in-place change to another cluster leaves the hashed one's placement alone.
    auto changed = config_;
    changed.bpffs_root = gateway_.writtenConfig().bpffs_root;
    changed.clusters[0].max_idle_per_endpoint = 8;  // "backend"
    const auto file = gateway_.writeFile("changed.yaml", changed.toYaml());
    auto applied = gwctl({"config", "apply", file.string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    ASSERT_EQ(KeyedUpstreams::sendKeys(port(), "after", kKeys), 0);
    EXPECT_EQ(keyed.misplaced("after", expected), std::vector<int>{});
}

TEST_F(LbTest, RingHashKeepsAKeyOnOneEndpointAndRequestsWithoutTheKeyGoRoundRobin) {
    KeyedUpstreams keyed(3);
    keyed.addTo(config_, "hashed", "ring_hash");
    ASSERT_TRUE(startGateway());
    ASSERT_EQ(KeyedUpstreams::sendKeys(port(), "ring", 300), 0);
    EXPECT_EQ(keyed.misplaced("ring", keyed.expectedPlacement(LbPolicy::RingHash, 300)), std::vector<int>{});

    HttpClient client(port());
    for (int i = 0; i < 30; ++i) ASSERT_EQ(client.get("/keys/nokey/" + std::to_string(i)).status(), 200u);
    for (std::size_t i = 0; i < keyed.size(); ++i) EXPECT_EQ(keyed[i].requestsTo("/keys/nokey/"), 10u) << i;
    EXPECT_TRUE(metricReaches("hotgate_upstream_hash_key_missing_total", {{"cluster", "hashed"}}, 30));
}

TEST_F(LbTest, WeightedRoundRobinSplitsRequestsByWeight) {
    addPair("", {first_.address(), "{address: \"" + second_.address() + "\", weight: 3}"});
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    for (int i = 0; i < 400; ++i) ASSERT_EQ(client.get("/pair/" + std::to_string(i)).status(), 200u);
    EXPECT_EQ(first_.requestsTo("/pair/"), 100u);
    EXPECT_EQ(second_.requestsTo("/pair/"), 300u);
}

TEST_F(LbTest, LeastRequestSendsFewerRequestsToASlowerEndpoint) {
    addPair("    lb: { policy: least_request }\n");
    second_.setResponseDelay(50ms);
    ASSERT_TRUE(startGateway());
    constexpr int kThreads = 8;
    constexpr int kPerThread = 40;
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&] {
            HttpClient client(port());
            for (int i = 0; i < kPerThread; ++i)
                if (client.get("/pair/x").status() != 200) ++failed;
        });
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failed.load(), 0);
    const auto slow = second_.requestsTo("/pair/");
    const auto fast = first_.requestsTo("/pair/");
    EXPECT_EQ(slow + fast, static_cast<std::uint64_t>(kThreads * kPerThread));
    // Round robin would send it half (160): with 8 clients and a 50 ms endpoint, the slower
    // one holds more requests in flight and loses most choices.
    EXPECT_LT(slow, fast / 3) << "slow " << slow << ", fast " << fast;
}

TEST_F(LbTest, SlowStartRampsUpAnEndpointAddedByAnApply) {
    addPair("    slow_start: 3s\n", {first_.address()});
    ASSERT_TRUE(startGateway());
    auto changed = config_;
    changed.bpffs_root = gateway_.writtenConfig().bpffs_root;
    changed.clusters.back().endpoints.push_back(second_.address());  // "pair"
    auto applied = gwctl({"config", "apply", gateway_.writeFile("added.yaml", changed.toYaml()).string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    HttpClient client(port());
    for (int i = 0; i < 100; ++i) ASSERT_EQ(client.get("/pair/early").status(), 200u);
    // Its first second: 10% to 33% of its weight, against the other's full weight.
    const auto early = second_.requestsTo("/pair/early");
    EXPECT_GT(early, 0u);
    EXPECT_LT(early, 30u);
    std::this_thread::sleep_for(3100ms);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(client.get("/pair/late").status(), 200u);
    EXPECT_EQ(second_.requestsTo("/pair/late"), 50u);
}

TEST_F(LbTest, OutlierDetectionEjectsAFailingEndpointCountsItAndTakesItBack) {
    addPair("    outlier_detection: { consecutive_5xx: 3, base_ejection_time: 1s, max_ejection_percent: 50 }\n");
    first_.setForcedStatus(500);
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    for (int i = 0; i < 20; ++i) client.get("/pair/warm");
    // Three 500s in a row ejected it: everything since went to the other endpoint.
    EXPECT_EQ(first_.requestsTo("/pair/"), 3u);
    EXPECT_EQ(second_.requestsTo("/pair/"), 17u);
    EXPECT_EQ(metric("hotgate_upstream_ejected", {{"cluster", "pair"}, {"endpoint", first_.address()}}), 1);
    EXPECT_EQ(metric("hotgate_upstream_ejected", {{"cluster", "pair"}, {"endpoint", second_.address()}}), 0);
    EXPECT_EQ(metric("hotgate_upstream_ejections_total", {{"cluster", "pair"}, {"endpoint", first_.address()}}), 1);
    auto status = gwctl({"status"});
    EXPECT_NE(status.out.find("pair " + first_.address() + " weight 1, EJECTED in 1 of 1 workers (1 ejections)"),
              std::string::npos)
        << status.out;

    // Healthy again, it comes back when its ejection ends.
    first_.setForcedStatus(0);
    std::this_thread::sleep_for(1100ms);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(client.get("/pair/back").status(), 200u);
    EXPECT_EQ(first_.requestsTo("/pair/back"), 5u);
    EXPECT_EQ(metric("hotgate_upstream_ejected", {{"cluster", "pair"}, {"endpoint", first_.address()}}), 0);
}

TEST_F(LbTest, WithEveryEndpointEjectedTrafficStillGoesToThemAndPanicIsCounted) {
    addPair("    outlier_detection: { consecutive_5xx: 2, base_ejection_time: 30s, max_ejection_percent: 100 }\n");
    first_.setForcedStatus(503);
    second_.setForcedStatus(503);
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    for (int i = 0; i < 10; ++i) {
        auto result = client.get("/pair/" + std::to_string(i));
        ASSERT_TRUE(result.ok()) << result.error();
        EXPECT_EQ(result.response.body(), "forced 503\n");  // the endpoints' answer, not "no healthy upstream"
    }
    EXPECT_EQ(first_.requestsTo("/pair/") + second_.requestsTo("/pair/"), 10u);
    EXPECT_TRUE(metricReaches("hotgate_upstream_panic_total", {{"cluster", "pair"}}, 1));
    EXPECT_EQ(metric("hotgate_upstream_ejections_total", {{"cluster", "pair"}}), 2);
}

}  // namespace
}  // namespace hotgate::test

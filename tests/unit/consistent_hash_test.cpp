// ConsistentHash: a hashing cluster's placement is exactly the Maglev table or ring of its
// endpoints (indexes in cluster.endpoints order), it is rebuilt only when its inputs change,
// and the fallback sequence of a key is the same everywhere (pinned).
#include "proxy/lb/consistent_hash.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "lb_samples.h"

namespace hotgate::lb {
namespace {

// Ten endpoints with weights 1..10, deliberately not in address order: indexes must follow
// cluster.endpoints whatever its order.
std::vector<EndpointConfig> tenEndpoints() {
    std::vector<EndpointConfig> endpoints;
    for (unsigned i = 0; i < 10; ++i) {
        const unsigned octet = (i * 7) % 10 + 1;  // 1, 8, 5, 2, 9, 6, 3, 10, 7, 4
        endpoints.push_back({{"10.0.0." + std::to_string(octet), 8080}, i + 1});
    }
    return endpoints;
}

ClusterConfig hashingCluster(LbPolicy policy, std::uint64_t table_size) {
    ClusterConfig cluster;
    cluster.name = "backend";
    cluster.endpoints = tenEndpoints();
    cluster.lb = {policy, {HashKeySource::Kind::Header, "x-user-id"}, table_size};
    return cluster;
}

std::vector<WeightedEndpoint> weighted(const ClusterConfig& cluster) {
    std::vector<WeightedEndpoint> endpoints;
    for (const auto& endpoint : cluster.endpoints) endpoints.push_back({endpoint.address.toString(), endpoint.weight});
    return endpoints;
}

std::shared_ptr<const ConsistentHash> buildOrDie(const ClusterConfig& cluster) {
    auto built = ConsistentHash::build(cluster);
    EXPECT_TRUE(built) << test::errorOf(built);
    return built ? *built : nullptr;
}

// `hash` and `table` pick the same index for every key, and that index names the same address.
template <typename Table>
void expectSamePicks(const ConsistentHash& hash, const Table& table, const ClusterConfig& cluster) {
    std::size_t mismatches = 0;
    for (const std::uint64_t key : test::requestKeyHashes(100'000)) {
        const auto picked = hash.pick(key);
        ASSERT_TRUE(picked);
        if (picked != table.pick(key)) ++mismatches;
        ASSERT_LT(*picked, cluster.endpoints.size());
        ASSERT_EQ(cluster.endpoints[*picked].address.toString(), table.endpoints()[*picked].key);
    }
    EXPECT_EQ(mismatches, 0u);
}

TEST(ConsistentHash, MaglevPicksAsTheMaglevTableOfTheSameEndpoints) {
    const ClusterConfig cluster = hashingCluster(LbPolicy::Maglev, 65537);
    const auto hash = buildOrDie(cluster);
    ASSERT_TRUE(hash);
    const auto endpoints = weighted(cluster);
    auto table = MaglevTable::build(endpoints, 65537);
    ASSERT_TRUE(table) << test::errorOf(table);
    expectSamePicks(*hash, *table, cluster);
    for (std::uint64_t slot = 0; slot < 65537; ++slot) ASSERT_EQ(hash->pick(slot), table->pick(slot)) << slot;
}

TEST(ConsistentHash, RingHashPicksAsTheRingOfTheSameEndpoints) {
    const ClusterConfig cluster = hashingCluster(LbPolicy::RingHash, 1024);
    const auto hash = buildOrDie(cluster);
    ASSERT_TRUE(hash);
    const auto endpoints = weighted(cluster);
    auto ring = RingHashTable::build(endpoints, 1024, RingHashTable::kDefaultMaxRingSize);
    ASSERT_TRUE(ring) << test::errorOf(ring);
    expectSamePicks(*hash, *ring, cluster);
}

TEST(ConsistentHash, HonoursTheClusterTableSize) {
    // Maglev of 1009 slots differs from the default 65537: the table size reaches the table.
    ClusterConfig cluster = hashingCluster(LbPolicy::Maglev, 1009);
    const auto hash = buildOrDie(cluster);
    ASSERT_TRUE(hash);
    const auto endpoints = weighted(cluster);
    auto small = MaglevTable::build(endpoints, 1009);
    ASSERT_TRUE(small);
    expectSamePicks(*hash, *small, cluster);
}

TEST(ConsistentHash, ABuildFailureNamesTheCluster) {
    ClusterConfig cluster = hashingCluster(LbPolicy::Maglev, 65536);  // not a prime
    auto built = ConsistentHash::build(cluster);
    ASSERT_FALSE(built);
    EXPECT_EQ(built.error().message.rfind("cluster backend: ", 0), 0u) << built.error().message;
}

TEST(ConsistentHashBuiltFrom, TheSameClusterIsBuiltFrom) {
    const ClusterConfig cluster = hashingCluster(LbPolicy::Maglev, 65537);
    const auto hash = buildOrDie(cluster);
    ASSERT_TRUE(hash);
    EXPECT_TRUE(hash->builtFrom(cluster));
    EXPECT_TRUE(hash->builtFrom(ClusterConfig(cluster)));
}

TEST(ConsistentHashBuiltFrom, KeysOutsideThePlacementDoNotMatter) {
    const ClusterConfig cluster = hashingCluster(LbPolicy::RingHash, 1024);
    const auto hash = buildOrDie(cluster);
    ASSERT_TRUE(hash);
    ClusterConfig changed = cluster;
    changed.max_idle_per_endpoint = 3;
    changed.retries.attempts = 5;
    changed.outlier_detection = OutlierDetectionConfig{};
    changed.slow_start = std::chrono::seconds(30);
    EXPECT_TRUE(hash->builtFrom(changed));
}

TEST(ConsistentHashBuiltFrom, AWeightChangeNeedsANewTable) {
    const ClusterConfig cluster = hashingCluster(LbPolicy::Maglev, 65537);
    const auto hash = buildOrDie(cluster);
    ASSERT_TRUE(hash);
    ClusterConfig changed = cluster;
    changed.endpoints[4].weight += 1;
    EXPECT_FALSE(hash->builtFrom(changed));
}

TEST(ConsistentHashBuiltFrom, AnEndpointChangeNeedsANewTable) {
    const ClusterConfig cluster = hashingCluster(LbPolicy::Maglev, 65537);
    const auto hash = buildOrDie(cluster);
    ASSERT_TRUE(hash);
    ClusterConfig added = cluster;
    added.endpoints.push_back({{"10.0.0.11", 8080}, 1});
    EXPECT_FALSE(hash->builtFrom(added));
    ClusterConfig removed = cluster;
    removed.endpoints.pop_back();
    EXPECT_FALSE(hash->builtFrom(removed));
    ClusterConfig moved = cluster;
    moved.endpoints[0].address.port = 8081;
    EXPECT_FALSE(hash->builtFrom(moved));
}

TEST(ConsistentHashBuiltFrom, AnLbChangeNeedsANewTable) {
    const ClusterConfig cluster = hashingCluster(LbPolicy::Maglev, 65537);
    const auto hash = buildOrDie(cluster);
    ASSERT_TRUE(hash);
    ClusterConfig policy = cluster;
    policy.lb.policy = LbPolicy::RingHash;
    EXPECT_FALSE(hash->builtFrom(policy));
    ClusterConfig size = cluster;
    size.lb.table_size = 1009;
    EXPECT_FALSE(hash->builtFrom(size));
    ClusterConfig key = cluster;
    key.lb.hash_key = {HashKeySource::Kind::Cookie, "session"};
    EXPECT_FALSE(hash->builtFrom(key));
}

TEST(FallbackHash, IsAPureFunctionOfKeyAndRound) {
    for (const std::uint64_t key : test::requestKeyHashes(1000))
        for (unsigned round = 1; round <= 3; ++round) ASSERT_EQ(fallbackHash(key, round), fallbackHash(key, round));
}

TEST(FallbackHash, EachRoundGivesAnotherHash) {
    for (const std::uint64_t key : test::requestKeyHashes(1000)) {
        std::set<std::uint64_t> seen{key};
        for (unsigned round = 1; round <= 8; ++round)
            EXPECT_TRUE(seen.insert(fallbackHash(key, round)).second) << key << " round " << round;
    }
}

TEST(FallbackHash, SpreadsAKeysFallbacksOverTheEndpoints) {
    // The rounds of one key visit several endpoints, not the same one again and again.
    const ClusterConfig cluster = hashingCluster(LbPolicy::Maglev, 65537);
    const auto hash = buildOrDie(cluster);
    ASSERT_TRUE(hash);
    const std::uint64_t key = hashKey("user-42");
    std::set<std::size_t> visited;
    for (unsigned round = 1; round <= 20; ++round) visited.insert(*hash->pick(fallbackHash(key, round)));
    EXPECT_GE(visited.size(), 5u);
}

TEST(FallbackHash, IsPinned) {
    // Golden values, computed once (XXH64 of the key's 8 little-endian bytes, seeded with the
    // round). Changing them moves keys whose endpoint is unavailable to other fallbacks across
    // an upgrade, and lets two versions serving at once disagree: only on purpose.
    const std::uint64_t user42 = hashKey("user-42");
    ASSERT_EQ(user42, 0x66bce84a947e4d3eULL);
    EXPECT_EQ(fallbackHash(user42, 1), 0x0317c3612edc9415ULL);
    EXPECT_EQ(fallbackHash(user42, 2), 0xb8ab6c2e189593deULL);
    EXPECT_EQ(fallbackHash(user42, 3), 0x0773d66598208166ULL);
    EXPECT_EQ(fallbackHash(0x0123456789abcdefULL, 1), 0x74a1a11854da1b5aULL);
    EXPECT_EQ(fallbackHash(0x0123456789abcdefULL, 2), 0x37424fcbd0f924c6ULL);
    EXPECT_EQ(fallbackHash(0x0123456789abcdefULL, 3), 0x6a06de1a965e6b9cULL);
}

}  // namespace
}  // namespace hotgate::lb

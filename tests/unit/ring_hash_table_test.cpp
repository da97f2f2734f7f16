// RingHashTable: weights are honoured, one endpoint more or less moves exactly its own keys,
// the ring stays within its size bounds, it is a pure function of the endpoint set (pinned
// across releases), and bad input is refused with the reason. Keys are 1,000,000 (100,000 for
// determinism) seeded request keys.
#include "proxy/lb/ring_hash_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "lb_samples.h"

namespace hotgate::lb {
namespace {

using test::endpointSet;
using test::errorOf;
using test::ownerKeys;
using test::report;

// The ring size the balance checks use. Shares on a ring vary with the points an endpoint owns
// (about 1/sqrt(points)): with the default minimum of 1024, weights 1..10 miss the 1-point bound
// (measured 1.3 points off), and 101 endpoints of 16 points each vary by a quarter.
constexpr std::size_t kBalancedRing = 65536;

std::vector<WeightedEndpoint> weightsOneToTen(std::uint32_t unit = 1) {
    auto endpoints = endpointSet(10);
    for (std::size_t i = 0; i < endpoints.size(); ++i) endpoints[i].weight = static_cast<std::uint32_t>(i + 1) * unit;
    return endpoints;
}

RingHashTable buildOrDie(std::span<const WeightedEndpoint> endpoints,
                         std::size_t min_ring = RingHashTable::kDefaultMinRingSize,
                         std::size_t max_ring = RingHashTable::kDefaultMaxRingSize) {
    auto table = RingHashTable::build(endpoints, min_ring, max_ring);
    EXPECT_TRUE(table) << errorOf(table);
    return std::move(table).value();
}

// Each endpoint's share of 1M keys is within 1 percentage point (absolute, 0.01) of weight / 55.
void expectWeightsHonoured(const RingHashTable& table) {
    const auto shares = test::keyShares(table, test::requestKeyHashes(1'000'000));
    double worst_points = 0, worst_relative = 0;
    for (std::size_t i = 0; i < shares.size(); ++i) {
        const double expected = (static_cast<double>(i) + 1) / 55.0;
        EXPECT_NEAR(shares[i], expected, 0.01) << table.endpoints()[i].key;
        worst_points = std::max(worst_points, std::fabs(shares[i] - expected));
        worst_relative = std::max(worst_relative, std::fabs(shares[i] - expected) / expected);
    }
    report("ring_size", static_cast<double>(table.ringSize()));
    report("max_share_deviation_absolute", worst_points);
    report("max_share_deviation_relative", worst_relative);
}

// Weights 1..10 get 2048 points per unit of weight (112,640 in all). Measured: 0.24 points off
// at most (4.6% of the share).
TEST(LbRingHashTable, WeightsHonoured) {
    const RingHashTable table = buildOrDie(weightsOneToTen(), kBalancedRing);
    EXPECT_EQ(table.ringSize(), 2048U * 55);
    expectWeightsHonoured(table);
}

// Weights 100,000..1,000,000 scale down, to round(weight / 64) points (1563, 3125, 4688, ...).
// Measured: 0.25 points off at most.
TEST(LbRingHashTable, LargeWeightsScaleDown) {
    const RingHashTable table = buildOrDie(weightsOneToTen(100'000), kBalancedRing);
    EXPECT_EQ(table.ringSize(), 85940U);
    expectWeightsHonoured(table);
}

// The ring is the smallest power-of-two multiple of the weights at or above min_ring: below
// 2 * min_ring, unless each endpoint's single point already makes more; max_ring wins.
TEST(LbRingHashTable, RingSizeFollowsBounds) {
    for (std::size_t count : {1, 7, 8, 9, 10, 11, 16, 100, 1000}) {
        const RingHashTable table = buildOrDie(endpointSet(count));
        EXPECT_GE(table.ringSize(), 1024U) << count;
        EXPECT_LT(table.ringSize(), 2048U) << count;
    }
    EXPECT_EQ(buildOrDie(endpointSet(10)).ringSize(), 1280U);  // 128 points each
    EXPECT_EQ(buildOrDie(endpointSet(5000)).ringSize(), 5000U);
    EXPECT_EQ(buildOrDie(endpointSet(10), 1024, 1200).ringSize(), 640U);
    EXPECT_EQ(buildOrDie(endpointSet(10), 1, 10).ringSize(), 10U);
}

// Removing one of `count` equal endpoints moves exactly the keys it had: its points go, nobody
// else's change (the scale stays). [low, high] bounds the keys moved (its share), only checked on
// a ring of kBalancedRing points.
void expectRemoveOneMovesOnlyItsKeys(std::size_t count, std::size_t min_ring, double low, double high) {
    const auto hashes = test::requestKeyHashes(1'000'000);
    auto endpoints = endpointSet(count);
    const RingHashTable before_table = buildOrDie(endpoints, min_ring);
    const auto before = ownerKeys(before_table, hashes);
    const std::string removed = endpoints[count / 2].key;
    endpoints.erase(endpoints.begin() + static_cast<std::ptrdiff_t>(count / 2));
    const RingHashTable after_table = buildOrDie(endpoints, min_ring);
    const auto after = ownerKeys(after_table, hashes);

    const auto remap = test::measureRemap(before, after, removed, "");
    EXPECT_EQ(remap.moved_from_others, 0.0);
    EXPECT_GE(remap.moved, low);
    EXPECT_LE(remap.moved, high);
    report("moved_fraction", remap.moved);
    report("ring_size_before", static_cast<double>(before_table.ringSize()));
    report("ring_size_after", static_cast<double>(after_table.ringSize()));
}

// Adding one to `count` equal endpoints moves keys only to it; [low, high] bounds how many.
void expectAddOneMovesOnlyToIt(std::size_t count, std::size_t min_ring, double low, double high) {
    const auto hashes = test::requestKeyHashes(1'000'000);
    auto endpoints = endpointSet(count);
    const auto before = ownerKeys(buildOrDie(endpoints, min_ring), hashes);
    const std::string added = endpointSet(1, 1, count).front().key;
    endpoints.push_back({added, 1});
    const RingHashTable after_table = buildOrDie(endpoints, min_ring);
    const auto after = ownerKeys(after_table, hashes);

    const auto remap = test::measureRemap(before, after, "", added);
    EXPECT_EQ(remap.moved_to_others, 0.0);
    EXPECT_GE(remap.moved, low);
    EXPECT_LE(remap.moved, high);
    report("moved_fraction", remap.moved);
}

// Ideal: 1/10 = 0.1 and 1/100 = 0.01 removed; 1/11 = 0.091 and 1/101 = 0.0099 added. Measured
// on kBalancedRing: 0.1014, 0.0102, 0.0905, 0.0096.
TEST(LbRingHashTable, RemovingOneOfTenMovesOnlyItsKeys) {
    expectRemoveOneMovesOnlyItsKeys(10, kBalancedRing, 0.08, 0.12);
}
TEST(LbRingHashTable, RemovingOneOfHundredMovesOnlyItsKeys) {
    expectRemoveOneMovesOnlyItsKeys(100, kBalancedRing, 0.007, 0.013);
}
TEST(LbRingHashTable, AddingOneToTenMovesAnEleventhOnlyToIt) {
    expectAddOneMovesOnlyToIt(10, kBalancedRing, 0.07, 0.12);
}
TEST(LbRingHashTable, AddingOneToHundredMovesAHundredFirstOnlyToIt) {
    expectAddOneMovesOnlyToIt(100, kBalancedRing, 0.007, 0.013);
}

// The same exactness on the default ring (1024 points at least), where shares are coarser
// (measured: 0.1000 and 0.0073 removed, 0.0857 and 0.0074 added).
TEST(LbRingHashTable, DefaultRingMovesOnlyTheChangedEndpointsKeys) {
    expectRemoveOneMovesOnlyItsKeys(10, RingHashTable::kDefaultMinRingSize, 0.05, 0.15);
    expectRemoveOneMovesOnlyItsKeys(100, RingHashTable::kDefaultMinRingSize, 0.004, 0.02);
    expectAddOneMovesOnlyToIt(10, RingHashTable::kDefaultMinRingSize, 0.05, 0.15);
    expectAddOneMovesOnlyToIt(100, RingHashTable::kDefaultMinRingSize, 0.004, 0.02);
}

// Where the promise ends: when the total weight crosses min_ring times a power of two, every
// endpoint's points double or halve. 16 equal endpoints own 64 points each (1024); 15 need 128
// each (1920) to reach 1024, so removing one moves keys between the others too.
TEST(LbRingHashTable, RescalingMovesOtherKeys) {
    const auto hashes = test::requestKeyHashes(100'000);
    auto endpoints = endpointSet(16);
    const RingHashTable sixteen = buildOrDie(endpoints);
    const auto before = ownerKeys(sixteen, hashes);
    const std::string removed = endpoints.back().key;
    endpoints.pop_back();
    const RingHashTable fifteen = buildOrDie(endpoints);
    EXPECT_EQ(sixteen.ringSize(), 1024U);
    EXPECT_EQ(fifteen.ringSize(), 1920U);
    const auto remap = test::measureRemap(before, ownerKeys(fifteen, hashes), removed, "");
    EXPECT_GT(remap.moved_from_others, 0.1);
    report("moved_fraction_not_on_removed", remap.moved_from_others);
}

TEST(LbRingHashTable, SameSetInAnyOrderBuildsTheSameRing) {
    test::expectSameSetInAnyOrderBuildsTheSame([](const std::vector<WeightedEndpoint>& e) { return buildOrDie(e); },
                                               weightsOneToTen());
}

// The owners of 100,000 request keys on the default ring of weightsOneToTen(), as one hash.
// Which endpoint a request key lands on across an upgrade (old and new process side by side)
// and across workers depends on it. If this changes, a release moves keys between endpoints:
// change it only deliberately (a new hash, seed, point scheme or scale rule), and say so in the
// release notes.
TEST(LbRingHashTable, RingIsPinnedAcrossReleases) {
    const RingHashTable table = buildOrDie(weightsOneToTen());
    EXPECT_EQ(table.ringSize(), 1760U);  // 32 points per unit of weight
    std::string owners;
    for (const std::string& owner : ownerKeys(table, test::requestKeyHashes(100'000)))
        owners.append(owner).push_back('\n');
    EXPECT_EQ(hashKey(owners), 0xd9066b3970064fc0ULL);
}

TEST(LbRingHashTable, WeightZeroIsAbsent) {
    test::expectWeightZeroEndpointIsAbsent([](const std::vector<WeightedEndpoint>& e) { return buildOrDie(e); });
}

TEST(LbRingHashTable, NoEndpointsPicksNone) {
    const RingHashTable table = buildOrDie({});
    test::expectPicksNone(table);
    EXPECT_EQ(table.ringSize(), 0U);
}

TEST(LbRingHashTable, RefusesBadInput) {
    const auto ten = endpointSet(10);
    struct Case {
        std::vector<WeightedEndpoint> endpoints;
        std::size_t min_ring;
        std::size_t max_ring;
        std::string says;
    };
    const std::vector<Case> cases{
        {ten, 0, 1024, "minimum ring size 0 must be at least 1"},
        {ten, 2048, 1024, "minimum ring size 2048 must be at least 1 and at most the maximum"},
        {ten, 1024, 8388609, "maximum ring size 8388609 is above the limit 8388608"},
        {ten, 8, 8, "maximum ring size 8 is below the 10 endpoints with a weight above 0"},
        {endpointSet(3, 0), 1024, 1024, "every endpoint has weight 0 (3 endpoints)"},
        {{{"10.0.0.1:80", 1}, {"10.0.0.2:80", 1}, {"10.0.0.1:80", 2}},
         1024,
         1024,
         "endpoints 0 and 2 have the same key \"10.0.0.1:80\""},
        {{{"10.0.0.1:80", 1}, {"", 1}}, 1024, 1024, "endpoint 1 has an empty key"},
    };
    for (const Case& c : cases) {
        const auto table = RingHashTable::build(c.endpoints, c.min_ring, c.max_ring);
        ASSERT_FALSE(table) << c.says;
        EXPECT_NE(errorOf(table).find(c.says), std::string::npos) << errorOf(table);
        EXPECT_EQ(errorOf(table).rfind("ring hash: ", 0), 0U) << errorOf(table);
    }
}

}  // namespace
}  // namespace hotgate::lb

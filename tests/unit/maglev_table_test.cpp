// MaglevTable: weights are honoured, one endpoint more or less moves few keys beyond its own,
// the table is a pure function of the endpoint set (pinned across releases), and bad input is
// refused with the reason. Keys are 1,000,000 (100,000 for determinism) seeded request keys.
#include "proxy/lb/maglev_table.h"

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

// Weights 1..10 on endpointSet(10): the input of the weight test and of the pinned table.
std::vector<WeightedEndpoint> weightsOneToTen() {
    auto endpoints = endpointSet(10);
    for (std::size_t i = 0; i < endpoints.size(); ++i) endpoints[i].weight = static_cast<std::uint32_t>(i + 1);
    return endpoints;
}

// One hash per slot: pick(s) for s below the table size reads slot s.
std::vector<std::uint64_t> everySlot(const MaglevTable& table) {
    std::vector<std::uint64_t> slots(table.tableSize());
    for (std::uint64_t s = 0; s < slots.size(); ++s) slots[s] = s;
    return slots;
}

// The owner of every slot, in slot order.
std::vector<std::string> slotOwners(const MaglevTable& table) {
    return ownerKeys(table, everySlot(table));
}

MaglevTable buildOrDie(std::span<const WeightedEndpoint> endpoints,
                       std::uint64_t table_size = MaglevTable::kDefaultTableSize) {
    auto table = MaglevTable::build(endpoints, table_size);
    EXPECT_TRUE(table) << errorOf(table);
    return std::move(table).value();
}

TEST(LbMaglevTable, WeightsHonoured) {
    const auto endpoints = weightsOneToTen();
    const MaglevTable table = buildOrDie(endpoints);
    const auto shares = test::keyShares(table, test::requestKeyHashes(1'000'000));
    const auto slot_shares = test::keyShares(table, everySlot(table));

    // Keys: each endpoint's share of the 1M keys is within 1 percentage point (absolute, 0.01)
    // of weight / 55. Measured: 0.044 points at most (1.2% of the share, sampling noise).
    // Slots: within 2 of table_size * weight / 55, the turn-taking is that exact (measured 1.2).
    double worst_points = 0, worst_relative = 0, worst_slots = 0;
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        const double expected = endpoints[i].weight / 55.0;
        EXPECT_NEAR(shares[i], expected, 0.01) << endpoints[i].key;
        EXPECT_NEAR(slot_shares[i] * 65537, expected * 65537, 2.0) << endpoints[i].key;
        worst_points = std::max(worst_points, std::fabs(shares[i] - expected));
        worst_relative = std::max(worst_relative, std::fabs(shares[i] - expected) / expected);
        worst_slots = std::max(worst_slots, std::fabs(slot_shares[i] - expected) * 65537);
    }
    report("max_share_deviation_absolute", worst_points);
    report("max_share_deviation_relative", worst_relative);
    report("max_slot_deviation", worst_slots);
}

TEST(LbMaglevTable, EveryWeightedEndpointOwnsASlot) {
    const std::vector<WeightedEndpoint> endpoints{
        {"10.0.0.1:80", 1}, {"10.0.0.2:80", 1'000'000}, {"10.0.0.3:80", 4'000'000'000}};
    const MaglevTable table = buildOrDie(endpoints, 65537);
    const auto owners = slotOwners(table);
    // Weight 1 of 4,001,000,001 is 0.00002 slots: it gets the one slot of its first turn.
    EXPECT_EQ(std::count(owners.begin(), owners.end(), "10.0.0.1:80"), 1);
    EXPECT_NEAR(std::count(owners.begin(), owners.end(), "10.0.0.2:80"), 16.4, 1.0);
}

// Remapping after one endpoint of `count` equal ones leaves. Maglev is not minimal: some slots
// of the others change hands too. Measured with these keys: 0.38% of all keys (10 endpoints),
// 0.56% (100). Bound: 1% of all keys, one endpoint's share of 100; a table that reshuffled on
// every change would move about 1 - 1/count.
void expectRemoveOneMovesFewOthers(std::size_t count) {
    const auto hashes = test::requestKeyHashes(1'000'000);
    auto endpoints = endpointSet(count);
    const auto before = ownerKeys(buildOrDie(endpoints), hashes);
    const std::string removed = endpoints[count / 2].key;
    endpoints.erase(endpoints.begin() + static_cast<std::ptrdiff_t>(count / 2));
    const MaglevTable after_table = buildOrDie(endpoints);
    const auto after = ownerKeys(after_table, hashes);

    const auto remap = test::measureRemap(before, after, removed, "");
    EXPECT_LT(remap.moved_from_others, 0.01);
    report("moved_fraction", remap.moved);
    report("moved_fraction_not_on_removed", remap.moved_from_others);
}

// Remapping after one endpoint joins `count` equal ones: the newcomer takes about 1/(count+1)
// of the keys, Maglev moves a few more between the others (measured 0.21% of all keys with 10
// endpoints, 0.55% with 100; bound 1%, as above). [low, high] bounds all keys that moved.
void expectAddOneMovesAboutItsShare(std::size_t count, double low, double high) {
    const auto hashes = test::requestKeyHashes(1'000'000);
    auto endpoints = endpointSet(count);
    const auto before = ownerKeys(buildOrDie(endpoints), hashes);
    const std::string added = endpointSet(1, 1, count).front().key;
    endpoints.push_back({added, 1});
    const MaglevTable after_table = buildOrDie(endpoints);
    const auto after = ownerKeys(after_table, hashes);

    const auto remap = test::measureRemap(before, after, "", added);
    EXPECT_GE(remap.moved, low);
    EXPECT_LE(remap.moved, high);
    EXPECT_LT(remap.moved_to_others, 0.01);
    report("moved_fraction", remap.moved);
    report("moved_fraction_not_to_added", remap.moved_to_others);
}

TEST(LbMaglevTable, RemovingOneOfTenMovesFewOtherKeys) {
    expectRemoveOneMovesFewOthers(10);
}
TEST(LbMaglevTable, RemovingOneOfHundredMovesFewOtherKeys) {
    expectRemoveOneMovesFewOthers(100);
}
// 1/11 = 0.091 ideally; measured 0.093.
TEST(LbMaglevTable, AddingOneToTenMovesAboutAnEleventh) {
    expectAddOneMovesAboutItsShare(10, 0.07, 0.12);
}
// 1/101 = 0.0099 ideally; measured 0.0154 (the 0.55% moved between the others on top).
TEST(LbMaglevTable, AddingOneToHundredMovesAboutAHundredFirst) {
    expectAddOneMovesAboutItsShare(100, 0.007, 0.02);
}

TEST(LbMaglevTable, SameSetInAnyOrderBuildsTheSameTable) {
    test::expectSameSetInAnyOrderBuildsTheSame([](const std::vector<WeightedEndpoint>& e) { return buildOrDie(e); },
                                               weightsOneToTen());
    // Every slot, not only the sampled keys.
    auto endpoints = weightsOneToTen();
    const MaglevTable first = buildOrDie(endpoints);
    std::reverse(endpoints.begin(), endpoints.end());
    EXPECT_EQ(slotOwners(first), slotOwners(buildOrDie(endpoints)));
}

// The owner of every slot for weightsOneToTen() at 65537 slots, as one hash. Which endpoint a
// request key lands on across an upgrade (old and new process side by side) and across workers
// depends on every slot being the same. If this changes, a release moves keys between endpoints:
// change it only deliberately (a new hash, seed or fill order), and say so in the release notes.
TEST(LbMaglevTable, TableIsPinnedAcrossReleases) {
    std::string owners;
    for (const std::string& owner : slotOwners(buildOrDie(weightsOneToTen()))) owners.append(owner).push_back('\n');
    EXPECT_EQ(hashKey(owners), 0x1b47b5ce71e41b51ULL);
}

TEST(LbMaglevTable, WeightZeroIsAbsent) {
    test::expectWeightZeroEndpointIsAbsent([](const std::vector<WeightedEndpoint>& e) { return buildOrDie(e); });
}

TEST(LbMaglevTable, NoEndpointsPicksNone) { test::expectPicksNone(buildOrDie({})); }

TEST(LbMaglevTable, RefusesBadInput) {
    const auto ten = endpointSet(10);
    struct Case {
        std::vector<WeightedEndpoint> endpoints;
        std::uint64_t table_size;
        std::string says;
    };
    const std::vector<Case> cases{
        {ten, 65536, "table size 65536 is not a prime"},
        {ten, 1, "table size 1 is not a prime"},
        {ten, 5000017, "table size 5000017 is above the limit 5000011"},
        {ten, 7, "table size 7 is below the 10 endpoints with a weight above 0"},
        {endpointSet(3, 0), 65537, "every endpoint has weight 0 (3 endpoints)"},
        {{{"10.0.0.1:80", 1}, {"10.0.0.2:80", 1}, {"10.0.0.1:80", 2}},
         65537,
         "endpoints 0 and 2 have the same key \"10.0.0.1:80\""},
        {{{"10.0.0.1:80", 1}, {"", 1}}, 65537, "endpoint 1 has an empty key"},
    };
    for (const Case& c : cases) {
        const auto table = MaglevTable::build(c.endpoints, c.table_size);
        ASSERT_FALSE(table) << c.says;
        EXPECT_NE(errorOf(table).find(c.says), std::string::npos) << errorOf(table);
        EXPECT_EQ(errorOf(table).rfind("maglev table: ", 0), 0U) << errorOf(table);
    }
    // Ten endpoints need ten slots: 11 is enough, weight-0 endpoints need none.
    EXPECT_TRUE(MaglevTable::build(ten, 11));
    auto with_zeros = ten;
    with_zeros.push_back({"10.0.9.9:8080", 0});
    EXPECT_TRUE(MaglevTable::build(with_zeros, 11));
}

TEST(LbMaglevTable, PrimeCheck) {
    for (std::uint64_t prime : {2, 3, 11, 65537, 655373, 4999999, 5000011}) EXPECT_TRUE(isPrime(prime)) << prime;
    for (std::uint64_t composite : {0, 1, 4, 9, 25, 65535, 65536, 5000009, 5000013})
        EXPECT_FALSE(isPrime(composite)) << composite;
}

}  // namespace
}  // namespace hotgate::lb

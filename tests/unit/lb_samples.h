// Endpoint sets, request keys and measurements shared by the load-balancing table tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/lb/key_hash.h"
#include "proxy/lb/weighted_endpoint.h"

namespace hotgate::lb::test {

// `count` endpoints "10.0.<i / 250>.<i % 250 + 1>:8080" for i in [first, first + count).
inline std::vector<WeightedEndpoint> endpointSet(std::size_t count, std::uint32_t weight = 1, std::size_t first = 0) {
    std::vector<WeightedEndpoint> endpoints;
    for (std::size_t i = first; i < first + count; ++i)
        endpoints.push_back({"10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":8080", weight});
    return endpoints;
}

// The hashes of `count` request keys "user-<n>", n drawn from std::mt19937_64 seeded with 18:
// the standard fixes that generator's output, so every run and machine sees the same keys.
inline std::vector<std::uint64_t> requestKeyHashes(std::size_t count) {
    std::mt19937_64 random(18);
    std::vector<std::uint64_t> hashes(count);
    for (std::uint64_t& hash : hashes) hash = hashKey("user-" + std::to_string(random()));
    return hashes;
}

// The key of the endpoint `table` picks for each hash ("" when it picks none). Copies, so the
// result outlives the table (tests compare tables built one after the other).
template <typename Table>
std::vector<std::string> ownerKeys(const Table& table, std::span<const std::uint64_t> hashes) {
    std::vector<std::string> owners;
    owners.reserve(hashes.size());
    for (std::uint64_t hash : hashes) {
        auto picked = table.pick(hash);
        owners.push_back(picked ? table.endpoints()[*picked].key : std::string());
    }
    return owners;
}

// The fraction of `hashes` that `table` sends to each of its endpoints (by build() index).
template <typename Table>
std::vector<double> keyShares(const Table& table, std::span<const std::uint64_t> hashes) {
    std::vector<double> shares(table.endpoints().size(), 0.0);
    for (std::uint64_t hash : hashes) shares[*table.pick(hash)] += 1.0;
    for (double& share : shares) share /= static_cast<double>(hashes.size());
    return shares;
}

// How the owners of the same keys differ between two tables (`before` and `after`).
struct Remap {
    double moved = 0;              // fraction of all keys whose endpoint changed
    double moved_from_others = 0;  // fraction of all keys that moved though not on `from`
    double moved_to_others = 0;    // fraction of all keys that moved to an endpoint but `to`
};

// `from`: the removed endpoint ("" when none); `to`: the added one ("" when none).
inline Remap measureRemap(std::span<const std::string> before, std::span<const std::string> after,
                          std::string_view from, std::string_view to) {
    std::size_t moved = 0, moved_from_others = 0, moved_to_others = 0;
    for (std::size_t i = 0; i < before.size(); ++i) {
        if (before[i] == after[i]) continue;
        ++moved;
        if (before[i] != from) ++moved_from_others;
        if (after[i] != to) ++moved_to_others;
    }
    const auto total = static_cast<double>(before.size());
    return {static_cast<double>(moved) / total, static_cast<double>(moved_from_others) / total,
            static_cast<double>(moved_to_others) / total};
}

// A weight-0 endpoint changes nothing: with it, every key lands where it did without it.
// `build` makes a table of an endpoint list.
template <typename Build>
void expectWeightZeroEndpointIsAbsent(Build build) {
    const auto hashes = requestKeyHashes(100'000);
    auto endpoints = endpointSet(10);
    const auto without = ownerKeys(build(endpoints), hashes);
    endpoints.insert(endpoints.begin() + 3, WeightedEndpoint{"10.0.9.9:8080", 0});
    EXPECT_EQ(ownerKeys(build(endpoints), hashes), without);
}

// The same endpoint set builds the same table twice and in any order, and pick() indexes the
// order given to build(). `build` makes a table of an endpoint list.
template <typename Build>
void expectSameSetInAnyOrderBuildsTheSame(Build build, std::vector<WeightedEndpoint> endpoints) {
    const auto hashes = requestKeyHashes(100'000);
    const auto first = build(endpoints);
    const auto again = build(endpoints);
    std::shuffle(endpoints.begin(), endpoints.end(), std::mt19937_64(7));
    const auto shuffled = build(endpoints);
    EXPECT_EQ(ownerKeys(first, hashes), ownerKeys(again, hashes));
    EXPECT_EQ(ownerKeys(first, hashes), ownerKeys(shuffled, hashes));
    const auto index = shuffled.pick(hashes.front());
    ASSERT_TRUE(index);
    EXPECT_EQ(endpoints[*index].key, ownerKeys(first, std::span(hashes).first(1)).front());
}

// A table of no endpoints picks none, whatever the key.
template <typename Table>
void expectPicksNone(const Table& table) {
    EXPECT_FALSE(table.pick(0));
    EXPECT_FALSE(table.pick(hashKey("anything")));
    EXPECT_TRUE(table.endpoints().empty());
}

// The message of a failed build, or a note that it did not fail.
template <typename Result>
std::string errorOf(const Result& result) {
    return result ? std::string("(build succeeded)") : result.error().what();
}

// Prints a measurement and records it in the test's XML report.
inline void report(const std::string& name, double value) {
    ::testing::Test::RecordProperty(name, std::to_string(value));
    std::cout << "    " << name << " = " << value << "\n";
}

}  // namespace hotgate::lb::test

// MaglevTable: the Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software
// Network Load Balancer", NSDI'16, section 3.4), with weights. A request key hash picks an
// endpoint with one array read. A change to the endpoint set moves the keys of the endpoints that
// changed and, unlike a ring, a few percent of the others (tests/unit/maglev_table_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/error.h"
#include "proxy/lb/weighted_endpoint.h"

namespace hotgate::lb {

class MaglevTable {
public:
    static constexpr std::uint64_t kDefaultTableSize = 65537;
    // The largest table_size build() accepts (a prime, as Envoy's limit): 20 MB of slots.
    static constexpr std::uint64_t kMaxTableSize = 5000011;

    // Builds the table of `endpoints` with `table_size` slots. The table is a pure function of
    // the set of (key, weight) pairs and table_size: neither the order of `endpoints` nor the
    // process or release changes a slot (tests/unit/maglev_table_test.cpp pins it). An endpoint
    // of weight w owns about table_size * w / (sum of weights) slots and at least one; weight 0
    // owns none, exactly as if it were absent. No endpoints: an empty table, pick() gives nullopt.
    // Fails when table_size is not a prime (each endpoint's permutation must visit every slot),
    // is above kMaxTableSize, or is below the number of endpoints with a weight above 0; and on
    // the errors of canonicalOrder() (empty or duplicate key, every weight 0).
    static Result<MaglevTable> build(std::span<const WeightedEndpoint> endpoints,
                                     std::uint64_t table_size = kDefaultTableSize);

    // The endpoint for a request key hash (hashKey()): an index into the `endpoints` given to
    // build(), which endpoints() keeps. nullopt when the table has no endpoints.
    std::optional<std::size_t> pick(std::uint64_t key_hash) const {
        if (slots_.empty()) return std::nullopt;
        return slots_[key_hash % slots_.size()];
    }

    // The endpoints given to build(), in the order given.
    const std::vector<WeightedEndpoint>& endpoints() const { return endpoints_; }
    std::uint64_t tableSize() const { return table_size_; }

private:
    MaglevTable(std::vector<WeightedEndpoint> endpoints, std::vector<std::uint32_t> slots, std::uint64_t table_size)
        : endpoints_(std::move(endpoints)), slots_(std::move(slots)), table_size_(table_size) {}

    std::vector<WeightedEndpoint> endpoints_;
    std::vector<std::uint32_t> slots_;  // slot -> index into endpoints_; empty without endpoints
    std::uint64_t table_size_;
};

// True when n is a prime. Exact; fast for n up to MaglevTable::kMaxTableSize. Inline: the
// config loader checks lb.table_size with it without linking the tables.
inline bool isPrime(std::uint64_t n) {
    if (n < 2) return false;
    if (n % 2 == 0) return n == 2;
    for (std::uint64_t d = 3; d <= n / d; d += 2)
        if (n % d == 0) return false;
    return true;
}

}  // namespace hotgate::lb

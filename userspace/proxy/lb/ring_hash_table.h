// RingHashTable: a ketama-style consistent-hash ring with weights. Each endpoint owns points on
// a 64-bit ring in proportion to its weight; a request key hash goes to the owner of the first
// point at or after it (wrapping). Removing or adding an endpoint moves only that endpoint's
// keys, except when the change rescales the ring (see build()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/error.h"
#include "proxy/lb/weighted_endpoint.h"

namespace hotgate::lb {

class RingHashTable {
public:
    // The defaults and the limit of Envoy's ring_hash (minimum_ring_size, maximum_ring_size).
    static constexpr std::size_t kDefaultMinRingSize = 1024;
    static constexpr std::size_t kDefaultMaxRingSize = 8 * 1024 * 1024;
    static constexpr std::size_t kRingSizeLimit = 8 * 1024 * 1024;

    // Builds the ring of `endpoints`: a pure function of the set of (key, weight) pairs, min_ring
    // and max_ring, whatever the order of `endpoints`, the process or the release
    // (tests/unit/ring_hash_table_test.cpp pins it). Point j of an endpoint sits at
    // seededHash(key, j).
    //
    // An endpoint of weight w owns w * 2^s points (for s < 0: rounded, and at least one), where
    // s is the smallest integer that makes the ring at least min_ring points, then lowered while
    // the ring is above max_ring (max_ring wins). So the ring has between min_ring and about
    // 2 * min_ring points, or one per endpoint if that is more. Envoy scales to min_ring instead,
    // which mostly changes every endpoint's points, and moves keys between the others, when one
    // endpoint comes or goes; here the points stay unless s changes (the total weight crosses
    // min_ring times a power of two), and then every endpoint's points double or halve (about
    // 40% of the keys move). Weight 0 owns no points, as if absent.
    //
    // No endpoints: an empty ring, pick() gives nullopt. Fails when min_ring is 0 or above
    // max_ring, max_ring is above kRingSizeLimit, or max_ring is below the number of endpoints
    // with a weight above 0 (each needs a point); and on the errors of canonicalOrder().
    static Result<RingHashTable> build(std::span<const WeightedEndpoint> endpoints,
                                       std::size_t min_ring = kDefaultMinRingSize,
                                       std::size_t max_ring = kDefaultMaxRingSize);

    // The endpoint for a request key hash (hashKey()): an index into the `endpoints` given to
    // build(), which endpoints() keeps. nullopt when the ring has no endpoints. O(log ringSize()).
    std::optional<std::size_t> pick(std::uint64_t key_hash) const;

    // The endpoints given to build(), in the order given.
    const std::vector<WeightedEndpoint>& endpoints() const { return endpoints_; }
    std::size_t ringSize() const { return point_hashes_.size(); }

private:
    RingHashTable(std::vector<WeightedEndpoint> endpoints, std::vector<std::uint64_t> point_hashes,
                  std::vector<std::uint32_t> point_owners)
        : endpoints_(std::move(endpoints)),
          point_hashes_(std::move(point_hashes)),
          point_owners_(std::move(point_owners)) {}

    std::vector<WeightedEndpoint> endpoints_;
    std::vector<std::uint64_t> point_hashes_;  // ascending: the ring
    std::vector<std::uint32_t> point_owners_;  // point -> index into endpoints_
};

}  // namespace hotgate::lb

// ConsistentHash: the placement of request keys on one cluster's endpoints for a ring_hash or
// maglev cluster of one config snapshot. Built once per snapshot off the request path (and kept
// for the next snapshot when the cluster's endpoints and lb settings did not change), shared
// read-only by every worker. A pure function of the endpoint set, weights and table size, so
// every worker, process and version places a key alike (docs/routing.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <variant>

#include "common/error.h"
#include "config/config.h"
#include "proxy/lb/maglev_table.h"
#include "proxy/lb/ring_hash_table.h"

namespace hotgate::lb {

class ConsistentHash {
public:
    // The table for `cluster` (its lb.policy must be ring_hash or maglev). Endpoint indexes are
    // those of cluster.endpoints. Fails as MaglevTable/RingHashTable::build do.
    static Result<std::shared_ptr<const ConsistentHash>> build(const ClusterConfig& cluster);

    // The endpoint (index into cluster.endpoints) for a key hash (hashKey()).
    std::optional<std::size_t> pick(std::uint64_t key_hash) const {
        return std::visit([key_hash](const auto& table) { return table.pick(key_hash); }, table_);
    }

    // Whether this table was built from the same endpoints and lb settings as `cluster` has.
    bool builtFrom(const ClusterConfig& cluster) const {
        return cluster.endpoints == endpoints_ && cluster.lb == lb_;
    }

private:
    ConsistentHash(std::variant<MaglevTable, RingHashTable> table, const ClusterConfig& cluster)
        : table_(std::move(table)), endpoints_(cluster.endpoints), lb_(cluster.lb) {}

    std::variant<MaglevTable, RingHashTable> table_;
    std::vector<EndpointConfig> endpoints_;
    LbConfig lb_;
};

// The next candidate for a key whose endpoint cannot take the request (ejected, down, tried
// already): the key rehashed with the round number (1, 2, ...), so every worker walks the same
// sequence of fallbacks for the same key.
std::uint64_t fallbackHash(std::uint64_t key_hash, unsigned round);

}  // namespace hotgate::lb

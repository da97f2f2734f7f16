#include "proxy/lb/consistent_hash.h"

#include <vector>

#include "proxy/lb/key_hash.h"

namespace hotgate::lb {

Result<std::shared_ptr<const ConsistentHash>> ConsistentHash::build(const ClusterConfig& cluster) {
    std::vector<WeightedEndpoint> endpoints;
    endpoints.reserve(cluster.endpoints.size());
    for (const auto& endpoint : cluster.endpoints)
        endpoints.push_back({endpoint.address.toString(), endpoint.weight});
    const auto context = [&](const Error& error) {
        return fail("cluster ", cluster.name, ": ", error.message);
    };
    if (cluster.lb.policy == LbPolicy::Maglev) {
        auto table = MaglevTable::build(endpoints, cluster.lb.table_size);
        if (!table) return context(table.error());
        return std::shared_ptr<const ConsistentHash>(new ConsistentHash(std::move(*table), cluster));
    }
    auto ring = RingHashTable::build(endpoints, cluster.lb.table_size, RingHashTable::kDefaultMaxRingSize);
    if (!ring) return context(ring.error());
    return std::shared_ptr<const ConsistentHash>(new ConsistentHash(std::move(*ring), cluster));
}

std::uint64_t fallbackHash(std::uint64_t key_hash, unsigned round) {
    char bytes[sizeof key_hash];  // little-endian whatever the machine: the same on every one
    for (std::size_t i = 0; i < sizeof key_hash; ++i) bytes[i] = static_cast<char>((key_hash >> (8 * i)) & 0xff);
    return seededHash(std::string_view(bytes, sizeof bytes), round);
}

}  // namespace hotgate::lb

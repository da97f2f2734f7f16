#include "proxy/cluster_limits.h"

namespace hotgate {

std::string_view clusterLimitName(ClusterLimit limit) {
    switch (limit) {
        case ClusterLimit::MaxConnections: return "max_connections";
        case ClusterLimit::MaxPendingRequests: return "max_pending_requests";
        case ClusterLimit::MaxRequests: return "max_requests";
    }
    return "unknown";
}

bool ClusterCounts::tryTake(ClusterLimit what, std::uint64_t max) {
    auto& counter = count(what);
    if (max == 0) {
        counter.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    // Compare-and-swap rather than add-then-undo: a transient overshoot would refuse requests
    // that another worker's concurrent one had room for.
    std::uint64_t seen = counter.load(std::memory_order_relaxed);
    do {
        if (seen >= max) return false;
    } while (!counter.compare_exchange_weak(seen, seen + 1, std::memory_order_relaxed));
    return true;
}

ClusterCounts& ClusterCountsRegistry::counts(const std::string& cluster) {
    std::lock_guard lock(mutex_);
    auto& slot = clusters_[cluster];
    if (!slot) slot = std::make_unique<ClusterCounts>();
    return *slot;
}

}  // namespace hotgate

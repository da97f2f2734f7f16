// Static limits of a cluster (clusters[].limits, docs/routing.md): how many upstream
// connections, requests waiting for a connect, and requests in flight one gateway process has
// toward a cluster, summed over its workers. What would go over a limit is answered 503 with
// x-hotgate-overflow naming the limit, never retried, and not held against any endpoint.
//
// The counts are process-wide atomics per cluster NAME (ClusterCountsRegistry, held by
// ServingContext): they outlive config snapshots, so a config apply that keeps a cluster keeps
// its counts and a changed limit applies to them at once. Each unit counted is held by a
// ClusterSlot, which gives it back when destroyed (also when a coroutine frame holding it is
// destroyed), so a count can never leak.
//
// What is counted when (the contract of the callers, UpstreamPool and upstream_tries.cpp):
//   - connections and pending requests: every new upstream connection, whether or not a limit
//     is set (one atomic add and one subtract per connection, not per request; a connect costs
//     far more), so a limit turned on by an apply sees the connections already open;
//   - requests: only while the cluster's max_requests is set, so a cluster without it pays
//     nothing per request. A request that started while it was off is not counted.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace hotgate {

// The response field that says which limit refused a request.
inline constexpr std::string_view kOverflowField = "x-hotgate-overflow";

enum class ClusterLimit : std::uint8_t { MaxConnections, MaxPendingRequests, MaxRequests };
inline constexpr std::size_t kClusterLimitCount = 3;

// The limit's config key, which is also its metric label and x-hotgate-overflow value.
std::string_view clusterLimitName(ClusterLimit limit);

// One cluster's counts in this process. Thread-safe (relaxed atomics: they order nothing else).
class ClusterCounts {
public:
    // Counts one more of `what` unless `max` are counted already; `max` 0 means no limit.
    // False (nothing counted) when at the limit. Exact under concurrency: never exceeds `max`.
    bool tryTake(ClusterLimit what, std::uint64_t max);
    // Gives back one unit taken by tryTake.
    void give(ClusterLimit what) { count(what).fetch_sub(1, std::memory_order_relaxed); }
    std::uint64_t current(ClusterLimit what) const {
        return counts_[static_cast<std::size_t>(what)].load(std::memory_order_relaxed);
    }

private:
    std::atomic<std::uint64_t>& count(ClusterLimit what) { return counts_[static_cast<std::size_t>(what)]; }
    std::array<std::atomic<std::uint64_t>, kClusterLimitCount> counts_{};
};

// Holds one unit of one count of a ClusterCounts, given back by the destructor or reset().
// Move-only. Empty (holds nothing) when default-made or when taking failed.
//
// The ClusterCounts must outlive the slot: ClusterCountsRegistry never drops one, and the
// ServingContext that owns the registry outlives the workers whose requests and connections
// hold slots.
class ClusterSlot {
public:
    ClusterSlot() = default;
    // Takes one unit of `what` from `counts` if below `max` (0: no limit); empty if not.
    ClusterSlot(ClusterCounts& counts, ClusterLimit what, std::uint64_t max)
        : counts_(counts.tryTake(what, max) ? &counts : nullptr), what_(what) {}
    ClusterSlot(ClusterSlot&& other) noexcept : counts_(other.counts_), what_(other.what_) { other.counts_ = nullptr; }
    ClusterSlot& operator=(ClusterSlot&& other) noexcept {
        if (this != &other) {
            reset();
            counts_ = other.counts_;
            what_ = other.what_;
            other.counts_ = nullptr;
        }
        return *this;
    }
    ClusterSlot(const ClusterSlot&) = delete;
    ClusterSlot& operator=(const ClusterSlot&) = delete;
    ~ClusterSlot() { reset(); }

    // Whether it holds a unit (taking succeeded).
    explicit operator bool() const { return counts_ != nullptr; }
    // Gives the unit back now (no-op when empty).
    void reset() noexcept {
        if (counts_) counts_->give(what_);
        counts_ = nullptr;
    }

private:
    ClusterCounts* counts_ = nullptr;
    ClusterLimit what_ = ClusterLimit::MaxRequests;
};

// Every cluster's counts by name, for the life of the process; a cluster removed and added
// back continues its counts (which are zero once its last request and connection ended).
class ClusterCountsRegistry {
public:
    // The counts of `cluster`, made on first use; the reference stays valid for the registry's
    // life. Takes a lock: once per worker, snapshot and cluster, never per request.
    ClusterCounts& counts(const std::string& cluster);

private:
    std::mutex mutex_;
    std::map<std::string, std::unique_ptr<ClusterCounts>> clusters_;
};

}  // namespace hotgate

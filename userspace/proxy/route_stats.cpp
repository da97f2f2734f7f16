#include "proxy/route_stats.h"

#include <bit>

namespace hotgate {

RouteStats::Sample& RouteStats::Sample::operator+=(const Sample& other) {
    requests += other.requests;
    errors_5xx += other.errors_5xx;
    for (std::size_t k = 0; k < kBuckets; ++k) latency[k] += other.latency[k];
    return *this;
}

RouteStats::Sample RouteStats::Sample::operator-(const Sample& earlier) const {
    Sample out;
    out.requests = requests - earlier.requests;
    out.errors_5xx = errors_5xx - earlier.errors_5xx;
    for (std::size_t k = 0; k < kBuckets; ++k) out.latency[k] = latency[k] - earlier.latency[k];
    return out;
}

std::chrono::microseconds RouteStats::Sample::p99() const {
    std::uint64_t total = 0;
    for (auto count : latency) total += count;
    if (total == 0) return std::chrono::microseconds(0);
    const std::uint64_t rank = (total * 99 + 99) / 100;  // ceil(0.99 * total)
    std::uint64_t seen = 0;
    for (std::size_t k = 0; k < kBuckets; ++k) {
        seen += latency[k];
        if (seen >= rank) return std::chrono::microseconds(std::uint64_t{1} << k);
    }
    return std::chrono::microseconds(std::uint64_t{1} << (kBuckets - 1));
}

std::size_t RouteStats::bucketOf(std::chrono::microseconds latency) {
    const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(0, latency.count()));
    // Smallest k with us < 2^k.
    const std::size_t k = us == 0 ? 0 : static_cast<std::size_t>(std::bit_width(us));
    return std::min(k, kBuckets - 1);
}

RouteStats::Sample RouteStats::sample() const {
    Sample out;
    out.requests = requests_.load(std::memory_order_relaxed);
    out.errors_5xx = errors_5xx_.load(std::memory_order_relaxed);
    for (std::size_t k = 0; k < kBuckets; ++k) out.latency[k] = latency_[k].load(std::memory_order_relaxed);
    return out;
}

std::shared_ptr<RouteStats> RouteStatsRegistry::get(const std::string& route) {
    std::lock_guard lock(mutex_);
    auto& stats = routes_[route];
    if (!stats) stats = std::make_shared<RouteStats>();
    return stats;
}

std::map<std::string, RouteStats::Sample> RouteStatsRegistry::sampleAll() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, RouteStats::Sample> out;
    for (const auto& [name, stats] : routes_) out[name] = stats->sample();
    return out;
}

}  // namespace hotgate

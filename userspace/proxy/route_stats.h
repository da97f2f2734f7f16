// RouteStats: cumulative answers, 5xx answers and a latency histogram of one route (by name),
// kept for the whole life of the process and shared by every snapshot that has the route. The
// config engine compares them before and after a change (verification window); the request
// path only does relaxed atomic adds.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace hotgate {

class RouteStats {
public:
    // Bucket k counts answers that took less than 2^k microseconds (the last one: any longer).
    static constexpr std::size_t kBuckets = 28;

    struct Sample {
        std::uint64_t requests = 0;
        std::uint64_t errors_5xx = 0;
        std::array<std::uint64_t, kBuckets> latency{};

        Sample& operator+=(const Sample& other);
        Sample operator-(const Sample& earlier) const;
        // Upper bound of the bucket holding the 99th percentile; zero without requests.
        std::chrono::microseconds p99() const;
        double errorRatio() const { return requests ? double(errors_5xx) / double(requests) : 0.0; }
    };

    void record(unsigned status, std::chrono::microseconds latency) {
        requests_.fetch_add(1, std::memory_order_relaxed);
        if (status >= 500) errors_5xx_.fetch_add(1, std::memory_order_relaxed);
        latency_[bucketOf(latency)].fetch_add(1, std::memory_order_relaxed);
    }

    Sample sample() const;

    static std::size_t bucketOf(std::chrono::microseconds latency);

private:
    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> errors_5xx_{0};
    std::array<std::atomic<std::uint64_t>, kBuckets> latency_{};
};

// Every route's stats by name; a route that comes back after a removal continues its counts.
class RouteStatsRegistry {
public:
    std::shared_ptr<RouteStats> get(const std::string& route);
    std::map<std::string, RouteStats::Sample> sampleAll() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<RouteStats>> routes_;
};

}  // namespace hotgate

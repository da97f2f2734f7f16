// LatencyHistogram: HdrHistogram-style log-linear buckets over microseconds. Values below 128 us
// are exact; above, each power of two is split into 64 buckets, so a reported percentile is at
// most 1/64 (1.6%) above the true value. Fixed size (12 KiB), mergeable, not thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace hotgate::loadgen {

class LatencyHistogram {
public:
    // Records one value; values past ~4.5 minutes land in the last bucket (max() stays exact).
    void record(std::chrono::nanoseconds latency);
    void merge(const LatencyHistogram& other);

    std::uint64_t count() const { return count_; }
    // The smallest bucket bound at or above the q-quantile (0 < q <= 1), capped at max();
    // 0 when empty.
    std::chrono::microseconds percentile(double q) const;
    std::chrono::microseconds max() const { return std::chrono::microseconds(max_us_); }
    std::chrono::microseconds min() const { return std::chrono::microseconds(count_ ? min_us_ : 0); }
    double meanMicros() const { return count_ ? static_cast<double>(sum_us_) / static_cast<double>(count_) : 0.0; }

    // Bucket arithmetic, public for the tests.
    static std::size_t bucketOf(std::uint64_t micros);
    static std::uint64_t upperBoundOf(std::size_t bucket);

private:
    static constexpr unsigned kLinearBits = 7;                        // 0..127 us exact
    static constexpr unsigned kSubBits = kLinearBits - 1;             // 64 buckets per octave
    static constexpr unsigned kMaxExponent = 28;                      // 2^28 us ~ 4.5 min
    static constexpr std::size_t kBuckets =
        (std::size_t{1} << kLinearBits) + (kMaxExponent - kLinearBits) * (std::size_t{1} << kSubBits);

    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_us_ = 0;
    std::uint64_t min_us_ = UINT64_MAX;
    std::uint64_t max_us_ = 0;
};

}  // namespace hotgate::loadgen

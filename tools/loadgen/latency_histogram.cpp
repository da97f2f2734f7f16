#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace hotgate::loadgen {

std::size_t LatencyHistogram::bucketOf(std::uint64_t v) {
    constexpr std::uint64_t kLinear = std::uint64_t{1} << kLinearBits;
    if (v < kLinear) return static_cast<std::size_t>(v);
    const unsigned exponent = std::min<unsigned>(63u - static_cast<unsigned>(std::countl_zero(v)), kMaxExponent - 1);
    const unsigned shift = exponent - kSubBits;
    // Clamped values (exponent capped) would overflow the sub-bucket: pin them to the last one.
    const std::uint64_t sub = std::min<std::uint64_t>((v >> shift), (kLinear - 1)) - (kLinear >> 1);
    return static_cast<std::size_t>(kLinear + (exponent - kLinearBits) * (kLinear >> 1) + sub);
}

std::uint64_t LatencyHistogram::upperBoundOf(std::size_t bucket) {
    constexpr std::uint64_t kLinear = std::uint64_t{1} << kLinearBits;
    if (bucket < kLinear) return bucket;
    const std::uint64_t rest = bucket - kLinear;
    const unsigned exponent = static_cast<unsigned>(rest / (kLinear >> 1)) + kLinearBits;
    const std::uint64_t sub = rest % (kLinear >> 1) + (kLinear >> 1);
    const unsigned shift = exponent - kSubBits;
    return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::record(std::chrono::nanoseconds latency) {
    const std::uint64_t micros = latency.count() > 0 ? static_cast<std::uint64_t>(latency.count()) / 1000 : 0;
    ++counts_[bucketOf(micros)];
    ++count_;
    sum_us_ += micros;
    min_us_ = std::min(min_us_, micros);
    max_us_ = std::max(max_us_, micros);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_us_ += other.sum_us_;
    min_us_ = std::min(min_us_, other.min_us_);
    max_us_ = std::max(max_us_, other.max_us_);
}

std::chrono::microseconds LatencyHistogram::percentile(double q) const {
    if (count_ == 0) return std::chrono::microseconds(0);
    q = std::clamp(q, 0.0, 1.0);
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            const std::uint64_t bound = std::clamp(upperBoundOf(i), min_us_, max_us_);
            return std::chrono::microseconds(bound);
        }
    }
    return max();
}

}  // namespace hotgate::loadgen

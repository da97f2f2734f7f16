// LatencyBins: where a latency in microseconds falls in a log-linear histogram of eight bins per
// power of two (each bin at most 12.5% wide), from 1us to about 71 minutes. The breaker keeps
// its latencies in these bins in shared memory (breaker_board.h) and reads a p95 off them.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace hotgate::protection {

struct LatencyBins {
    static constexpr unsigned kSubBins = 8;      // per power of two
    static constexpr unsigned kMaxPower = 31;    // the last power of two that has its own bins
    static constexpr std::size_t kCount = kSubBins + (kMaxPower - 2) * kSubBins;

    static std::size_t binOf(std::uint64_t micros) {
        if (micros < kSubBins) return static_cast<std::size_t>(micros);
        if (micros >= (std::uint64_t{1} << (kMaxPower + 1))) return kCount - 1;
        const unsigned power = static_cast<unsigned>(std::bit_width(micros)) - 1;  // >= 3
        const std::uint64_t sub = (micros >> (power - 3)) & (kSubBins - 1);
        return kSubBins + (power - 3) * kSubBins + static_cast<std::size_t>(sub);
    }

    // The smallest latency above every latency of `bin`.
    static std::uint64_t upperBound(std::size_t bin) {
        if (bin < kSubBins) return bin + 1;
        const unsigned power = static_cast<unsigned>((bin - kSubBins) / kSubBins) + 3;
        const std::uint64_t sub = (bin - kSubBins) % kSubBins;
        const std::uint64_t width = std::uint64_t{1} << (power - 3);
        return (kSubBins + sub) * width + width;
    }
};

}  // namespace hotgate::protection

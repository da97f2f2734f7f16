// bench_stats.h: the order statistics the C++ benchmarks (tools/bench/*/main.cpp) report.
// Header-only: each benchmark is one translation unit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace hotgate::bench {

// The median of `v` (the mean of the middle two for an even count). `v` must not be empty.
inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The `p` quantile of `v` (0 <= p <= 1) by nearest rank. `v` must not be empty.
inline double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5))];
}

}  // namespace hotgate::bench

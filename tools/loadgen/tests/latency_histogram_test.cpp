// LatencyHistogram: exact below 128 us, within 1/64 above, percentiles by rank, merge.
#include <gtest/gtest.h>

#include "latency_histogram.h"

namespace hotgate::loadgen {
namespace {

using std::chrono::microseconds;

TEST(LatencyHistogramTest, BucketsCoverEveryValueWithBoundedError) {
    for (std::uint64_t v : {0ull, 1ull, 127ull, 128ull, 129ull, 1000ull, 65'535ull, 1'000'000ull, 123'456'789ull}) {
        const std::size_t bucket = LatencyHistogram::bucketOf(v);
        const std::uint64_t upper = LatencyHistogram::upperBoundOf(bucket);
        EXPECT_GE(upper, v) << v;
        EXPECT_LE(static_cast<double>(upper - v), static_cast<double>(v) / 64.0 + 0.5) << v;
        if (bucket > 0) {
            EXPECT_LT(LatencyHistogram::upperBoundOf(bucket - 1), v) << v;
        }
    }
    // Buckets are contiguous and increasing.
    for (std::size_t b = 1; b < 1400; ++b)
        EXPECT_EQ(LatencyHistogram::bucketOf(LatencyHistogram::upperBoundOf(b - 1) + 1), b);
    // Past the range, everything shares the last bucket; the recorded max stays exact.
    EXPECT_EQ(LatencyHistogram::bucketOf(1ull << 40), LatencyHistogram::bucketOf(UINT64_MAX));
    LatencyHistogram histogram;
    histogram.record(std::chrono::hours(10));
    EXPECT_EQ(histogram.percentile(0.5), std::chrono::hours(10));
}

TEST(LatencyHistogramTest, PercentilesFollowRanks) {
    LatencyHistogram histogram;
    EXPECT_EQ(histogram.percentile(0.5), microseconds(0));
    for (int i = 1; i <= 100; ++i) histogram.record(microseconds(i));  // exact range
    EXPECT_EQ(histogram.count(), 100u);
    EXPECT_EQ(histogram.percentile(0.5), microseconds(50));
    EXPECT_EQ(histogram.percentile(0.99), microseconds(99));
    EXPECT_EQ(histogram.percentile(1.0), microseconds(100));
    EXPECT_EQ(histogram.max(), microseconds(100));
    EXPECT_EQ(histogram.min(), microseconds(1));
    EXPECT_DOUBLE_EQ(histogram.meanMicros(), 50.5);

    LatencyHistogram slow;
    slow.record(std::chrono::milliseconds(250));
    histogram.merge(slow);
    EXPECT_EQ(histogram.count(), 101u);
    EXPECT_EQ(histogram.max(), microseconds(250'000)) << "max stays exact";
    const auto p100 = histogram.percentile(1.0);
    EXPECT_EQ(p100, microseconds(250'000)) << "capped at the recorded max";
}

}  // namespace
}  // namespace hotgate::loadgen

// ClusterCounts, ClusterSlot and ClusterCountsRegistry (proxy/cluster_limits.h): a count never
// goes past its limit, also when threads race for the last unit; every unit taken comes back
// when its slot is reset, moved from and destroyed, destroyed with a coroutine frame, or
// replaced; a cluster name keeps its counts across lookups.
#include "proxy/cluster_limits.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "proxy/asio.h"

namespace hotgate {
namespace {

using namespace std::chrono_literals;

TEST(ClusterLimits, LimitNamesAreTheConfigKeys) {
    EXPECT_EQ(clusterLimitName(ClusterLimit::MaxConnections), "max_connections");
    EXPECT_EQ(clusterLimitName(ClusterLimit::MaxPendingRequests), "max_pending_requests");
    EXPECT_EQ(clusterLimitName(ClusterLimit::MaxRequests), "max_requests");
}

TEST(ClusterLimits, TakesUpToTheLimitAndNoMore) {
    ClusterCounts counts;
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(counts.tryTake(ClusterLimit::MaxRequests, 3)) << i;
    EXPECT_FALSE(counts.tryTake(ClusterLimit::MaxRequests, 3));
    EXPECT_EQ(counts.current(ClusterLimit::MaxRequests), 3u);
    // The other counts are separate.
    EXPECT_TRUE(counts.tryTake(ClusterLimit::MaxConnections, 1));
    EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 0u);
    counts.give(ClusterLimit::MaxRequests);
    EXPECT_TRUE(counts.tryTake(ClusterLimit::MaxRequests, 3));
    // A limit lowered below the count refuses until enough are given back.
    EXPECT_FALSE(counts.tryTake(ClusterLimit::MaxRequests, 2));
    counts.give(ClusterLimit::MaxRequests);
    EXPECT_FALSE(counts.tryTake(ClusterLimit::MaxRequests, 2));
    counts.give(ClusterLimit::MaxRequests);
    EXPECT_TRUE(counts.tryTake(ClusterLimit::MaxRequests, 2));
}

TEST(ClusterLimits, ZeroMeansNoLimitButStillCounts) {
    ClusterCounts counts;
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(counts.tryTake(ClusterLimit::MaxConnections, 0));
    EXPECT_EQ(counts.current(ClusterLimit::MaxConnections), 1000u);
    // A limit set later sees what is counted already.
    EXPECT_FALSE(counts.tryTake(ClusterLimit::MaxConnections, 1000));
}

TEST(ClusterLimits, ASlotGivesItsUnitBackOnceWhenResetMovedOrDestroyed) {
    ClusterCounts counts;
    {
        ClusterSlot slot(counts, ClusterLimit::MaxPendingRequests, 2);
        EXPECT_TRUE(slot);
        EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 1u);
        ClusterSlot moved(std::move(slot));
        EXPECT_FALSE(slot);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
        EXPECT_TRUE(moved);
        EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 1u);
        ClusterSlot assigned;
        assigned = std::move(moved);
        EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 1u);
        assigned.reset();
        EXPECT_FALSE(assigned);
        EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 0u);
        assigned.reset();  // no second give
        EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 0u);
        ClusterSlot last(counts, ClusterLimit::MaxPendingRequests, 2);
        EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 1u);
    }
    EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 0u);
}

TEST(ClusterLimits, AFailedTakeHoldsNothingAndReplacingASlotGivesTheOldUnitBack) {
    ClusterCounts counts;
    ClusterSlot first(counts, ClusterLimit::MaxRequests, 1);
    ASSERT_TRUE(first);
    {
        ClusterSlot refused(counts, ClusterLimit::MaxRequests, 1);
        EXPECT_FALSE(refused);
        EXPECT_EQ(counts.current(ClusterLimit::MaxRequests), 1u);
    }
    EXPECT_EQ(counts.current(ClusterLimit::MaxRequests), 1u);   // the refused one gave nothing back
    first = ClusterSlot(counts, ClusterLimit::MaxRequests, 2);  // a request's slot taken again
    EXPECT_TRUE(first);
    EXPECT_EQ(counts.current(ClusterLimit::MaxRequests), 1u);
    first = ClusterSlot();
    EXPECT_EQ(counts.current(ClusterLimit::MaxRequests), 0u);
}

TEST(ClusterLimits, ASlotInACoroutineFrameComesBackWhenTheFrameIsDestroyed) {
    ClusterCounts counts;
    {
        asio::io_context io;
        asio::co_spawn(
            io,
            [&counts]() -> awaitable<void> {
                ClusterSlot pending(counts, ClusterLimit::MaxPendingRequests, 5);
                asio::steady_timer forever(co_await asio::this_coro::executor);
                forever.expires_after(std::chrono::hours(1));
                error_code ec;
                co_await forever.async_wait(withError(ec));
            },
            asio::detached);
        io.poll();
        EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 1u);
    }  // the io_context goes with the suspended coroutine: its frame is destroyed
    EXPECT_EQ(counts.current(ClusterLimit::MaxPendingRequests), 0u);
}

TEST(ClusterLimits, AnExceptionGivesTheUnitBack) {
    ClusterCounts counts;
    try {
        ClusterSlot slot(counts, ClusterLimit::MaxConnections, 1);
        throw std::runtime_error("connect setup failed");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(counts.current(ClusterLimit::MaxConnections), 0u);
}

TEST(ClusterLimits, RacingThreadsNeverGoPastTheLimitAndGiveEverythingBack) {
    constexpr std::uint64_t kLimit = 8;
    constexpr int kThreads = 8;
    constexpr int kRounds = 20000;
    ClusterCounts counts;
    std::atomic<std::uint64_t> most{0};
    std::atomic<std::uint64_t> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kRounds; ++i) {
                ClusterSlot slot(counts, ClusterLimit::MaxRequests, kLimit);
                if (!slot) {
                    refused.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                const auto now = counts.current(ClusterLimit::MaxRequests);
                auto seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                if (i % 64 == 0) std::this_thread::yield();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_LE(most.load(), kLimit);
    EXPECT_GE(most.load(), 1u);
    EXPECT_EQ(counts.current(ClusterLimit::MaxRequests), 0u);
}

TEST(ClusterLimits, TheRegistryKeepsOneCountsPerClusterName) {
    ClusterCountsRegistry registry;
    ClusterCounts& pay = registry.counts("pay");
    ClusterCounts& api = registry.counts("api");
    EXPECT_NE(&pay, &api);
    ClusterSlot held(pay, ClusterLimit::MaxConnections, 0);
    // A later lookup (the next snapshot's pools) finds the same counts, with what they hold.
    ClusterCounts& again = registry.counts("pay");
    EXPECT_EQ(&again, &pay);
    EXPECT_EQ(again.current(ClusterLimit::MaxConnections), 1u);
    EXPECT_EQ(api.current(ClusterLimit::MaxConnections), 0u);
}

}  // namespace
}  // namespace hotgate

// SharedBuckets: token-bucket arithmetic on a fake clock, and the sharing that lets a limit hold
// across workers and across the processes of two versions (protection/shared_buckets.h).
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "protection/shared_buckets.h"

namespace hotgate::protection {
namespace {

constexpr std::uint64_t kT0 = 1'000'000;  // a fake CLOCK_MONOTONIC time, ms
constexpr std::uint64_t kKey = 0x1234'5678'9abc'def0ULL;

std::unique_ptr<SharedBuckets> table(std::uint32_t slots = 64) {
    auto made = SharedBuckets::create(slots);
    EXPECT_TRUE(made) << (made ? "" : made.error().message);
    return made ? std::move(*made) : nullptr;
}

int takeAll(SharedBuckets& buckets, std::uint64_t key, const BucketLimit& limit, std::uint64_t now, int tries) {
    int taken = 0;
    for (int i = 0; i < tries; ++i) taken += buckets.take(key, limit, now) ? 1 : 0;
    return taken;
}

TEST(SharedBuckets, ANewKeyGetsItsBurstThenNothingUntilItRefills) {
    auto buckets = table();
    const BucketLimit limit{10, 5};
    EXPECT_EQ(takeAll(*buckets, kKey, limit, kT0, 8), 5);
    EXPECT_EQ(buckets->msUntilToken(kKey, limit, kT0), 100u);  // 10 a second: one per 100 ms
    EXPECT_EQ(takeAll(*buckets, kKey, limit, kT0 + 99, 1), 0);
    EXPECT_EQ(takeAll(*buckets, kKey, limit, kT0 + 100, 2), 1);
    // A long pause refills to the burst, never beyond it.
    EXPECT_EQ(takeAll(*buckets, kKey, limit, kT0 + 60'000, 10), 5);
}

TEST(SharedBuckets, OverTimeATakerGetsTheRateAndNoMore) {
    auto buckets = table();
    const BucketLimit limit{100, 50};
    int taken = 0;
    for (std::uint64_t ms = 0; ms <= 1000; ms += 5) taken += takeAll(*buckets, kKey, limit, kT0 + ms, 10);
    EXPECT_GE(taken, 50 + 99);  // the burst, then 100 a second for 1 s
    EXPECT_LE(taken, 50 + 100);
}

TEST(SharedBuckets, KeysHaveTheirOwnBuckets) {
    auto buckets = table();
    const BucketLimit limit{1, 2};
    EXPECT_EQ(takeAll(*buckets, kKey, limit, kT0, 5), 2);
    EXPECT_EQ(takeAll(*buckets, kKey + 1, limit, kT0, 5), 2);
}

TEST(SharedBuckets, ThreadsTakingTogetherNeverGetMoreThanTheBucketHeld) {
    auto buckets = table();
    const BucketLimit limit{0.001, 10000};
    std::atomic<int> taken{0};
    std::vector<std::thread> threads;
    threads.reserve(4);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] { taken += takeAll(*buckets, kKey, limit, kT0, 5000); });
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(taken.load(), 10000);
}

TEST(SharedBuckets, AnotherProcessSpendsFromTheSameBuckets) {
    auto buckets = table();
    const BucketLimit limit{0.001, 50};
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // The next version: it attaches to the table by the fd it was handed.
        auto attached = SharedBuckets::attach(UniqueFd(::dup(buckets->fd())));
        _exit(attached && takeAll(**attached, kKey, limit, kT0, 30) == 30 ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(takeAll(*buckets, kKey, limit, kT0, 50), 20);
}

TEST(SharedBuckets, AFullProbeWindowEvictsTheBucketRefilledLongestAgoAndCountsIt) {
    auto buckets = table(SharedBuckets::kProbe);  // one window: the whole table
    ASSERT_EQ(buckets->slots(), SharedBuckets::kProbe);
    const BucketLimit limit{1, 1};
    for (std::uint64_t key = 1; key <= SharedBuckets::kProbe; ++key)
        EXPECT_TRUE(buckets->take(key, limit, kT0 + key));
    EXPECT_EQ(buckets->evictions(), 0u);
    EXPECT_TRUE(buckets->take(100, limit, kT0 + 100));
    EXPECT_EQ(buckets->evictions(), 1u);
    // Key 1 (the oldest) lost its bucket and starts full again; key 2 kept its empty one.
    EXPECT_FALSE(buckets->take(2, limit, kT0 + 101));
    EXPECT_TRUE(buckets->take(1, limit, kT0 + 101));
}

TEST(SharedBuckets, AttachRefusesAnFdThatIsNotATable) {
    UniqueFd other(::memfd_create("not-a-table", MFD_CLOEXEC));
    ASSERT_TRUE(other);
    ASSERT_EQ(::ftruncate(other.get(), 4096), 0);
    const int fd = other.get();
    auto attached = SharedBuckets::attach(std::move(other));
    ASSERT_FALSE(attached);
    EXPECT_EQ(attached.error().message,
              "fd " + std::to_string(fd) + " is not a rate-limit bucket table of layout 1");
}

}  // namespace
}  // namespace hotgate::protection

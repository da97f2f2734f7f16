// The shared breaker table: one sample per interval however many processes try, the p95 and
// rate read from what was counted, and a table mapped from its fd (as the next version maps
// it) continuing with the same level and history.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include "protection/breaker_board.h"

namespace hotgate::protection {
namespace {

using namespace std::chrono_literals;

CircuitBreakerConfig fastConfig() {
    CircuitBreakerConfig c;
    c.enabled = true;
    c.window = 1000ms;
    c.sample_interval = 100ms;
    c.qps_ratio = 1.8;
    c.p95_delta = 200ms;
    c.shed_percent = 30;
    c.min_requests = 10;
    return c;
}

void count(BreakerBoard::Route& route, int requests, std::uint64_t micros) {
    for (int i = 0; i < requests; ++i) {
        BreakerBoard::countOffered(route);
        BreakerBoard::countAnswered(route, micros);
    }
}

TEST(BreakerBoard, TheSameRouteNameIsTheSameEntryAndOthersAreNot) {
    auto board = BreakerBoard::create();
    ASSERT_TRUE(board) << board.error().message;
    auto* a = (*board)->route(42);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ((*board)->route(42), a);
    EXPECT_NE((*board)->route(43), a);
}

TEST(BreakerBoard, OneSampleAnInterval) {
    auto board = BreakerBoard::create();
    ASSERT_TRUE(board);
    auto& route = *(*board)->route(7);
    const auto config = fastConfig();
    EXPECT_FALSE((*board)->sample(route, config, 1000, 0)) << "the first claim only sets the start";
    count(route, 50, 1000);
    (*board)->sample(route, config, 1050, 0);  // too early: not taken
    (*board)->sample(route, config, 1100, 0);
    const auto first = BreakerBoard::view(route);
    EXPECT_EQ(first.level, BreakerLevel::L0);
    EXPECT_EQ(first.signals.qps_ratio, 0) << "no baseline yet";
}

// Drives a route through a quiet baseline and an incident, sample by sample.
TEST(BreakerBoard, AnIncidentRaisesTheLevelAndATableMappedFromItsFdKeepsIt) {
    auto board = BreakerBoard::create();
    ASSERT_TRUE(board);
    const auto config = fastConfig();
    auto& route = *(*board)->route(9);
    std::uint64_t now = 10'000;
    (*board)->sample(route, config, now, 0);
    for (int i = 0; i < 5; ++i) {  // baseline: 20 requests a sample, 1 ms
        count(route, 20, 1000);
        now += 100;
        EXPECT_FALSE((*board)->sample(route, config, now, 0));
    }
    std::vector<BreakerLevel> levels;
    for (int i = 0; i < 3; ++i) {  // incident: 60 requests a sample, 400 ms
        count(route, 60, 400'000);
        now += 100;
        auto change = (*board)->sample(route, config, now, 1234);
        ASSERT_TRUE(change) << "sample " << i;
        levels.push_back(change->to);
    }
    EXPECT_EQ(levels, (std::vector{BreakerLevel::L1, BreakerLevel::L2, BreakerLevel::L3}));
    const auto view = BreakerBoard::view(route);
    EXPECT_NEAR(view.signals.qps_ratio, 3.0, 0.01);
    EXPECT_GT(view.signals.p95_delta_us, 350'000);
    EXPECT_EQ(view.level_changes, 3u);
    EXPECT_EQ(view.last_change_unix_ms, 1234u);
    const auto logged = (*board)->changes();
    ASSERT_EQ(logged.size(), 3u);
    EXPECT_EQ(logged[0].route_hash, 9u);
    EXPECT_EQ(logged[0].from, BreakerLevel::L0);
    EXPECT_EQ(logged[2].to, BreakerLevel::L3);
    EXPECT_EQ(logged[2].unix_ms, 1234u);

    // The next version maps the same memory: same level, and its samples continue the history.
    auto successor = BreakerBoard::attach(UniqueFd(::dup((*board)->fd())));
    ASSERT_TRUE(successor) << successor.error().message;
    auto& same = *(*successor)->route(9);
    EXPECT_EQ(BreakerBoard::level(same), BreakerLevel::L3);
    count(same, 60, 400'000);
    now += 100;
    EXPECT_FALSE((*successor)->sample(same, config, now, 0)) << "the incident goes on: L3 holds";
    EXPECT_EQ(BreakerBoard::level(route), BreakerLevel::L3);
    for (BreakerLevel expected : {BreakerLevel::L2, BreakerLevel::L1, BreakerLevel::L0}) {
        count(same, 20, 1000);
        now += 100;
        auto change = (*successor)->sample(same, config, now, 0);
        ASSERT_TRUE(change);
        EXPECT_EQ(change->to, expected);
    }
}

// A non-critical route at L3 refuses everything: no latency to read, and the level must hold.
TEST(BreakerBoard, ARouteThatShedsEverythingHoldsItsLatencySignal) {
    auto board = BreakerBoard::create();
    ASSERT_TRUE(board);
    const auto config = fastConfig();
    auto& route = *(*board)->route(11);
    std::uint64_t now = 10'000;
    (*board)->sample(route, config, now, 0);
    for (int i = 0; i < 5; ++i) {
        count(route, 20, 1000);
        (*board)->sample(route, config, now += 100, 0);
    }
    for (int i = 0; i < 3; ++i) {
        count(route, 60, 400'000);
        (*board)->sample(route, config, now += 100, 0);
    }
    ASSERT_EQ(BreakerBoard::level(route), BreakerLevel::L3);
    for (int i = 0; i < 60; ++i) BreakerBoard::countOffered(route);  // all refused: none answered
    EXPECT_FALSE((*board)->sample(route, config, now += 100, 0));
    EXPECT_EQ(BreakerBoard::level(route), BreakerLevel::L3);
}

TEST(BreakerBoard, AnFdThatIsNotABreakerTableIsRefused) {
    UniqueFd fd(::memfd_create("not-a-table", MFD_CLOEXEC));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), 4096), 0);
    auto attached = BreakerBoard::attach(std::move(fd));
    ASSERT_FALSE(attached);
    EXPECT_NE(attached.error().message.find("is not a circuit breaker table"), std::string::npos)
        << attached.error().message;
}

}  // namespace
}  // namespace hotgate::protection

// Retry policy: which failed tries may be sent again (never a payment the endpoint may have
// taken), which methods are idempotent, the per-worker retry budget over its sliding 10 s window
// (driven with synthetic steady_clock time points, never by sleeping), and the backoff.
#include "proxy/retry_policy.h"

#include <gtest/gtest.h>

#include <array>
#include <sstream>
#include <string>

namespace hotgate {
namespace {

using namespace std::chrono_literals;
using Clock = RetryBudget::Clock;

// What a try failure needs of the request before it may be retried.
enum class Needs {
    Nothing,                // the endpoint cannot have acted on it: nothing was sent
    Repeatable,             // request bytes went out: an idempotent request, whole in hand
    RepeatableOrMarked,     // an answer came: idempotent or marked retryable, whole in hand
};

struct FailureRule {
    TryFailure failure;
    const char* name;
    RetryOn condition;
    Needs needs;
};

// The specification of retryCondition, one row per TryFailure.
constexpr std::array<FailureRule, 6> kRules{{
    {TryFailure::ConnectFailed, "ConnectFailed", RetryOn::ConnectFailure, Needs::Nothing},
    {TryFailure::ConnectRefused, "ConnectRefused", RetryOn::Refused, Needs::Nothing},
    {TryFailure::ClosedBeforeRequest, "ClosedBeforeRequest", RetryOn::ResetBeforeResponse, Needs::Nothing},
    {TryFailure::ClosedBeforeResponse, "ClosedBeforeResponse", RetryOn::ResetBeforeResponse, Needs::Repeatable},
    {TryFailure::PerTryTimeout, "PerTryTimeout", RetryOn::GatewayError, Needs::Repeatable},
    {TryFailure::GatewayErrorResponse, "GatewayErrorResponse", RetryOn::GatewayError, Needs::RepeatableOrMarked},
}};

bool allowedBy(Needs needs, const RetryFacts& facts) {
    switch (needs) {
        case Needs::Nothing: return true;
        case Needs::Repeatable: return facts.repeatable && facts.replayable;
        case Needs::RepeatableOrMarked: return (facts.repeatable || facts.marked_retryable) && facts.replayable;
    }
    return false;
}

std::string describe(const FailureRule& rule, const RetryFacts& facts) {
    std::ostringstream out;
    out << rule.name << " repeatable=" << facts.repeatable << " replayable=" << facts.replayable
        << " marked_retryable=" << facts.marked_retryable;
    return out.str();
}

TEST(RetryCondition, FollowsTheTruthTableForEveryFailureAndEveryFact) {
    for (const FailureRule& rule : kRules)
        for (int bits = 0; bits < 8; ++bits) {
            const RetryFacts facts{(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0};
            const auto expected = allowedBy(rule.needs, facts) ? std::optional(rule.condition) : std::nullopt;
            EXPECT_EQ(retryCondition(rule.failure, facts), expected) << describe(rule, facts);
        }
}

TEST(RetryCondition, NothingSentIsRetryableEvenForAPostWithAStreamedBody) {
    const RetryFacts post_streaming{.repeatable = false, .replayable = false, .marked_retryable = false};
    EXPECT_EQ(retryCondition(TryFailure::ConnectFailed, post_streaming), RetryOn::ConnectFailure);
    EXPECT_EQ(retryCondition(TryFailure::ConnectRefused, post_streaming), RetryOn::Refused);
    EXPECT_EQ(retryCondition(TryFailure::ClosedBeforeRequest, post_streaming), RetryOn::ResetBeforeResponse);
}

TEST(RetryCondition, APaymentTheEndpointMayHaveTakenIsNeverRetried) {
    // A POST without an Idempotency-Key, whole in hand: its bytes went out, no answer came.
    const RetryFacts payment{.repeatable = false, .replayable = true, .marked_retryable = false};
    EXPECT_EQ(retryCondition(TryFailure::ClosedBeforeResponse, payment), std::nullopt);
    EXPECT_EQ(retryCondition(TryFailure::PerTryTimeout, payment), std::nullopt);
    EXPECT_EQ(retryCondition(TryFailure::GatewayErrorResponse, payment), std::nullopt);
}

TEST(RetryCondition, APaymentWithAnIdempotencyKeyIsRetriedAfterAReset) {
    const RetryFacts keyed{.repeatable = true, .replayable = true, .marked_retryable = false};
    EXPECT_EQ(retryCondition(TryFailure::ClosedBeforeResponse, keyed), RetryOn::ResetBeforeResponse);
    EXPECT_EQ(retryCondition(TryFailure::PerTryTimeout, keyed), RetryOn::GatewayError);
}

TEST(RetryCondition, AMarkedGatewayErrorIsRetriedForAnyMethodButNotARequestNoLongerInHand) {
    const RetryFacts marked_post{.repeatable = false, .replayable = true, .marked_retryable = true};
    EXPECT_EQ(retryCondition(TryFailure::GatewayErrorResponse, marked_post), RetryOn::GatewayError);
    // The mark speaks of the answer only: a reset or a timeout has none.
    EXPECT_EQ(retryCondition(TryFailure::ClosedBeforeResponse, marked_post), std::nullopt);
    EXPECT_EQ(retryCondition(TryFailure::PerTryTimeout, marked_post), std::nullopt);
    const RetryFacts streamed{.repeatable = true, .replayable = false, .marked_retryable = true};
    EXPECT_EQ(retryCondition(TryFailure::GatewayErrorResponse, streamed), std::nullopt);
}

TEST(RetryIdempotence, SafeMethodsPutAndDeleteAreIdempotent) {
    for (const http::verb method : {http::verb::get, http::verb::head, http::verb::options, http::verb::trace,
                                    http::verb::put, http::verb::delete_})
        EXPECT_TRUE(isIdempotent(method)) << http::to_string(method);
}

TEST(RetryIdempotence, PostPatchAndConnectAreNot) {
    for (const http::verb method : {http::verb::post, http::verb::patch, http::verb::connect, http::verb::unknown})
        EXPECT_FALSE(isIdempotent(method)) << http::to_string(method);
}

TEST(RetryConfigAllows, OnlyTheListedConditions) {
    RetryConfig config;
    config.on = {RetryOn::Refused, RetryOn::GatewayError};
    EXPECT_TRUE(config.allows(RetryOn::Refused));
    EXPECT_TRUE(config.allows(RetryOn::GatewayError));
    EXPECT_FALSE(config.allows(RetryOn::ConnectFailure));
    EXPECT_FALSE(config.allows(RetryOn::ResetBeforeResponse));
    EXPECT_FALSE(RetryConfig{}.allows(RetryOn::Refused));
}

// A time point `seconds` (may be fractional) after a fixed origin of the steady clock.
Clock::time_point at(double seconds) {
    return Clock::time_point{} + 1000s + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

void recordRequests(RetryBudget& budget, Clock::time_point now, unsigned count) {
    for (unsigned i = 0; i < count; ++i) budget.recordRequest(now);
}

// Spends retries at `now` until the budget refuses one; how many it allowed (at most 10,000).
unsigned spendAll(RetryBudget& budget, Clock::time_point now, unsigned budget_percent) {
    unsigned spent = 0;
    while (spent < 10'000 && budget.spend(now, budget_percent)) ++spent;
    return spent;
}

TEST(RetryBudget, AnIdleWindowStillAllowsTheMinimum) {
    RetryBudget budget;
    EXPECT_EQ(spendAll(budget, at(0), 20), RetryBudget::kMinRetries);
}

TEST(RetryBudget, TheMinimumHoldsUnderASmallShareAndAtZeroPercent) {
    RetryBudget few;
    recordRequests(few, at(0), 10);  // 20% of 10 is 2
    EXPECT_EQ(spendAll(few, at(0), 20), RetryBudget::kMinRetries);
    RetryBudget none;
    recordRequests(none, at(0), 1000);
    EXPECT_EQ(spendAll(none, at(0), 0), RetryBudget::kMinRetries);
}

TEST(RetryBudget, TwentyPercentOfAHundredRequestsAllowsTwenty) {
    RetryBudget budget;
    recordRequests(budget, at(0), 100);
    EXPECT_EQ(spendAll(budget, at(0.5), 20), 20u);
    EXPECT_FALSE(budget.spend(at(0.5), 20));  // spent stays spent
}

TEST(RetryBudget, ARefusedRetryTakesNothing) {
    RetryBudget budget;
    recordRequests(budget, at(0), 100);
    EXPECT_EQ(spendAll(budget, at(0), 20), 20u);
    EXPECT_FALSE(budget.spend(at(0), 20));
    recordRequests(budget, at(0), 5);  // 105 requests: 21 retries
    EXPECT_TRUE(budget.spend(at(0), 20));
    EXPECT_FALSE(budget.spend(at(0), 20));
}

// 100 requests at 0 s and 100 more at 5 s.
RetryBudget twoBursts() {
    RetryBudget budget;
    recordRequests(budget, at(0), 100);
    recordRequests(budget, at(5), 100);
    return budget;
}

TEST(RetryBudget, RequestsOfTheLastTenSecondsCount) {
    RetryBudget budget = twoBursts();
    EXPECT_EQ(spendAll(budget, at(9.9), 20), 40u);
}

TEST(RetryBudget, RequestsTenSecondsOldStopCounting) {
    RetryBudget budget = twoBursts();
    EXPECT_EQ(spendAll(budget, at(10), 20), 20u);  // only the burst at 5 s
    RetryBudget later = twoBursts();
    EXPECT_EQ(spendAll(later, at(15), 20), RetryBudget::kMinRetries);  // neither
}

TEST(RetryBudget, SpentRetriesAreReturnedAsTheWindowSlides) {
    RetryBudget budget;
    recordRequests(budget, at(0), 100);
    EXPECT_EQ(spendAll(budget, at(0), 20), 20u);
    recordRequests(budget, at(9), 100);  // 200 requests in the window, 20 retries spent
    EXPECT_EQ(spendAll(budget, at(9), 20), 20u);
    // At 10 s the requests and retries of second 0 leave: 100 requests, 20 retries of second 9.
    EXPECT_FALSE(budget.spend(at(10), 20));
    // At 19 s second 9 leaves too: the window is empty.
    EXPECT_EQ(spendAll(budget, at(19), 20), RetryBudget::kMinRetries);
}

TEST(RetryBudget, ALongSilenceForgetsEverything) {
    RetryBudget budget;
    recordRequests(budget, at(0), 1000);
    EXPECT_EQ(spendAll(budget, at(1), 10), 100u);
    EXPECT_EQ(spendAll(budget, at(3600), 10), RetryBudget::kMinRetries);
}

TEST(RetryBackoff, ZeroUnitWaitsNothing) {
    for (unsigned retry = 1; retry <= 12; ++retry) EXPECT_EQ(backoffDelay(25ms, retry, 0.0), 0ms) << retry;
}

TEST(RetryBackoff, DoublesPerRetryUpToTenTimesTheBackoff) {
    // Half of backoff x 2^(retry-1), until that passes 10 x backoff (1000 ms).
    EXPECT_EQ(backoffDelay(100ms, 1, 0.5), 50ms);
    EXPECT_EQ(backoffDelay(100ms, 2, 0.5), 100ms);
    EXPECT_EQ(backoffDelay(100ms, 3, 0.5), 200ms);
    EXPECT_EQ(backoffDelay(100ms, 4, 0.5), 400ms);
    EXPECT_EQ(backoffDelay(100ms, 5, 0.5), 500ms);  // 1600 ms capped at 1000 ms
    EXPECT_EQ(backoffDelay(100ms, 6, 0.5), 500ms);
    EXPECT_EQ(backoffDelay(100ms, 1000, 0.5), 500ms);  // no overflow for absurd retry numbers
}

TEST(RetryBackoff, TheCeilingIsBackoffTimesTwoToTheRetryMinusOne) {
    EXPECT_EQ(backoffDelay(25ms, 1, 1.0), 25ms);
    EXPECT_EQ(backoffDelay(25ms, 2, 1.0), 50ms);
    EXPECT_EQ(backoffDelay(25ms, 4, 1.0), 200ms);
    EXPECT_EQ(backoffDelay(25ms, 5, 1.0), 250ms);  // 400 ms capped at 10 x 25 ms
    EXPECT_LT(backoffDelay(25ms, 4, 0.999), 200ms);  // a unit below 1 stays below the ceiling
}

TEST(RetryBackoff, RetryZeroIsTreatedAsTheFirst) {
    EXPECT_EQ(backoffDelay(100ms, 0, 0.5), backoffDelay(100ms, 1, 0.5));
}

}  // namespace
}  // namespace hotgate

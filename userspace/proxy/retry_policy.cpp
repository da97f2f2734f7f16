#include "proxy/retry_policy.h"

#include <algorithm>

namespace hotgate {

std::optional<RetryOn> retryCondition(TryFailure failure, const RetryFacts& facts) {
    switch (failure) {
        case TryFailure::ConnectFailed: return RetryOn::ConnectFailure;
        case TryFailure::ConnectRefused: return RetryOn::Refused;
        case TryFailure::ClosedBeforeRequest: return RetryOn::ResetBeforeResponse;
        case TryFailure::ClosedBeforeResponse:
            if (facts.repeatable && facts.replayable) return RetryOn::ResetBeforeResponse;
            return std::nullopt;
        case TryFailure::PerTryTimeout:
            if (facts.repeatable && facts.replayable) return RetryOn::GatewayError;
            return std::nullopt;
        case TryFailure::GatewayErrorResponse:
            if ((facts.repeatable || facts.marked_retryable) && facts.replayable) return RetryOn::GatewayError;
            return std::nullopt;
    }
    return std::nullopt;
}

bool isIdempotent(http::verb method) {
    switch (method) {
        case http::verb::get:
        case http::verb::head:
        case http::verb::options:
        case http::verb::trace:
        case http::verb::put:
        case http::verb::delete_: return true;
        default: return false;
    }
}

void RetryBudget::advance(Clock::time_point now) {
    const auto second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (second_ < 0 || second - second_ >= static_cast<std::int64_t>(kBuckets)) {
        requests_.fill(0);
        retries_.fill(0);
    } else {
        for (auto s = second_ + 1; s <= second; ++s) {
            requests_[static_cast<std::size_t>(s) % kBuckets] = 0;
            retries_[static_cast<std::size_t>(s) % kBuckets] = 0;
        }
    }
    second_ = std::max(second_, second);
}

void RetryBudget::recordRequest(Clock::time_point now) {
    advance(now);
    ++requests_[static_cast<std::size_t>(second_) % kBuckets];
}

bool RetryBudget::spend(Clock::time_point now, unsigned budget_percent) {
    advance(now);
    std::uint64_t requests = 0;
    std::uint64_t retries = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        requests += requests_[i];
        retries += retries_[i];
    }
    const std::uint64_t allowed = std::max<std::uint64_t>(kMinRetries, requests * budget_percent / 100);
    if (retries >= allowed) return false;
    ++retries_[static_cast<std::size_t>(second_) % kBuckets];
    return true;
}

std::chrono::milliseconds backoffDelay(std::chrono::milliseconds backoff, unsigned retry, double unit) {
    const unsigned doublings = std::min(retry == 0 ? 0u : retry - 1, 16u);
    const std::int64_t base = backoff.count();
    const std::int64_t ceiling = std::min(base << doublings, base * 10);
    return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(ceiling) * unit));
}

}  // namespace hotgate

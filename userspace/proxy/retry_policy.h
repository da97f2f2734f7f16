// When a failed try of a proxied request may be tried again (clusters[].retries,
// docs/routing.md): only when the endpoint cannot have acted on it, or when acting twice is
// harmless (an idempotent method, an Idempotency-Key), within a budget so that retries cannot
// multiply the load of an endpoint that is failing anyway.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

#include "config/config.h"
#include "proxy/asio.h"

namespace hotgate {

// How a try failed.
enum class TryFailure {
    ConnectFailed,         // the connect (or its TLS handshake) failed or timed out: nothing sent
    ConnectRefused,        // the connect was refused: nothing sent
    ClosedBeforeRequest,   // the connection failed before one byte of the request was written
    ClosedBeforeResponse,  // request bytes were written, then it closed or reset without a response byte
    PerTryTimeout,         // no response head within retries.per_try_timeout
    GatewayErrorResponse,  // the endpoint answered 502, 503 or 504
};

// What the request allows.
struct RetryFacts {
    bool repeatable = false;  // idempotent method (RFC 9110 9.2.2) or an Idempotency-Key field
    bool replayable = false;  // the whole request is still in hand (its body fit in the first piece)
    bool marked_retryable = false;  // the failed response carries x-hotgate-retryable
};

// The retry condition `failure` falls under when the request may be sent again at all, else
// nullopt. A try after which the endpoint may have acted (request bytes sent, no complete
// answer) is repeated only for a repeatable request (or a response marked retryable).
std::optional<RetryOn> retryCondition(TryFailure failure, const RetryFacts& facts);

// Idempotent methods (RFC 9110 9.2.2): GET, HEAD, OPTIONS, TRACE, PUT, DELETE.
bool isIdempotent(http::verb method);

// retries.budget_percent over a sliding 10 s window of 1 s buckets, per worker and cluster.
class RetryBudget {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr unsigned kMinRetries = 5;  // a window always allows this many

    void recordRequest(Clock::time_point now);
    // Takes one retry from the budget; false (and nothing taken) when it is spent.
    bool spend(Clock::time_point now, unsigned budget_percent);

private:
    static constexpr std::size_t kBuckets = 10;
    void advance(Clock::time_point now);

    std::array<std::uint64_t, kBuckets> requests_{};
    std::array<std::uint64_t, kBuckets> retries_{};
    std::int64_t second_ = -1;  // the second the newest bucket counts
};

// The wait before retry number `retry` (1 for the first): `unit` (a random number in [0, 1))
// times backoff x 2^(retry-1), capped at 10 x backoff.
std::chrono::milliseconds backoffDelay(std::chrono::milliseconds backoff, unsigned retry, double unit);

}  // namespace hotgate

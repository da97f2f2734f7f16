#include "telemetry/export_retry.h"

#include <algorithm>

namespace hotgate::telemetry {

ExportVerdict exportVerdict(const PostOutcome& outcome) {
    switch (outcome.failure) {
        case PostFailure::None:
            break;
        case PostFailure::Resolve:
        case PostFailure::Connect:
        case PostFailure::Send:
        case PostFailure::Receive:
        case PostFailure::Timeout:
            return ExportVerdict::Retry;
        case PostFailure::Aborted:
            return ExportVerdict::Drop;
    }
    if (outcome.status >= 200 && outcome.status < 300) return ExportVerdict::Exported;
    switch (outcome.status) {
        case 429:  // Too Many Requests
        case 502:  // Bad Gateway
        case 503:  // Service Unavailable
        case 504:  // Gateway Timeout
            return ExportVerdict::Retry;
        default:
            return ExportVerdict::Drop;
    }
}

std::chrono::milliseconds retryDelay(const RetryPolicy& policy, int retry,
                                     std::optional<std::chrono::seconds> retry_after) {
    if (retry_after) return std::min<std::chrono::milliseconds>(*retry_after, policy.max_backoff);
    auto delay = policy.initial_backoff;
    for (int i = 1; i < retry && delay < policy.max_backoff; ++i) delay *= 2;
    return std::min(delay, policy.max_backoff);
}

}  // namespace hotgate::telemetry

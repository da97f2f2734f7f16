// What the exporter does after one POST of a batch: done, try again (and after how long), or
// give the batch up. The OTLP/HTTP rules: retry on transport failures and on 429, 502, 503,
// 504, honouring Retry-After; any other non-2xx answer is final.
#pragma once

#include <chrono>
#include <optional>

#include "telemetry/http_post.h"

namespace hotgate::telemetry {

enum class ExportVerdict {
    Exported,  // 2xx: the collector took the batch
    Retry,     // transient: send the same batch again after retryDelay
    Drop,      // final: the collector refused the batch, or the exporter is shutting down
};

ExportVerdict exportVerdict(const PostOutcome& outcome);

struct RetryPolicy {
    int max_retries = 5;                             // attempts after the first
    std::chrono::milliseconds initial_backoff{200};  // before the first retry
    std::chrono::milliseconds max_backoff{5000};     // caps the doubling and any Retry-After
};

// The wait before retry number `retry` (1 for the first retry): initial_backoff doubled for
// each retry after the first, capped at max_backoff. A Retry-After from the collector replaces
// it (0 means at once), capped the same way.
std::chrono::milliseconds retryDelay(const RetryPolicy& policy, int retry,
                                     std::optional<std::chrono::seconds> retry_after);

}  // namespace hotgate::telemetry

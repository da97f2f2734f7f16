// OutlierState: one worker's passive health record of one endpoint for outlier detection
// (clusters[].outlier_detection, docs/routing.md): failures in a row, whether it is ejected
// and until when, and how many times it was. Kept in UpstreamEndpoint, so it survives config
// applies that keep the endpoint; a new process starts without ejections.
#pragma once

#include <chrono>

#include "config/config.h"

namespace hotgate {

// How one try on an endpoint ended, as outlier detection counts it.
enum class TryOutcome {
    Success,       // a response below 500
    ServerError,   // a 5xx response other than 502, 503, 504
    GatewayError,  // a 502, 503 or 504 response, or the connect, the connection or a per-try timeout failed
};

class OutlierState {
public:
    using Clock = std::chrono::steady_clock;

    // Counts `outcome`. True when it completes a run of failures that calls for an ejection
    // (the caller ejects unless too many endpoints are ejected already).
    bool record(TryOutcome outcome, const OutlierDetectionConfig& config);

    // Ejects the endpoint from `now` for base_ejection_time x the times it was ejected (one
    // forgotten per `interval` it spent back since its last ejection). Returns the end.
    Clock::time_point eject(const OutlierDetectionConfig& config, Clock::time_point now);

    // Whether the endpoint is ejected at `now`; an ejection that ran out ends here (and the
    // failure counts start over).
    bool ejected(Clock::time_point now);
    // When the endpoint came back from its last ejection (epoch when it never was ejected):
    // where its slow start begins.
    Clock::time_point backSince() const { return back_since_; }
    unsigned timesEjected() const { return times_ejected_; }

private:
    unsigned consecutive_5xx_ = 0;
    unsigned consecutive_gateway_errors_ = 0;
    unsigned times_ejected_ = 0;
    bool is_ejected_ = false;
    Clock::time_point ejected_until_{};
    Clock::time_point back_since_{};
};

}  // namespace hotgate

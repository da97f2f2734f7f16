// What `gwctl verify` compares (docs/verification.md): of each mirrored request's two answers,
// the status, the SHA-256 of the body and the configured response fields; of each route, the
// two versions' latency p50 and p99, equal within a share of the running version's or a floor,
// whichever is more (a single answer's latency is noise; a shifted distribution is not).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace hotgate::shadow {

// One version's answer to a mirrored request.
struct Answer {
    unsigned status = 0;        // 0: no answer (see `error`)
    std::string error;          // why there was none: "connection reset", "timed out after 5000ms"
    std::string body_sha256;    // lower-case hex
    std::map<std::string, std::string> fields;  // each compared field's value ("" when absent)
    std::chrono::microseconds latency{};        // from the first byte sent to the last received
};

struct Tolerance {
    std::vector<std::string> fields;  // lower case
    double latency_share = 0.1;
    std::chrono::microseconds latency_floor{5000};

    static Tolerance fromConfig(const ShadowVerifyConfig& config);
};

// Where two answers differ; each flag is a column of the report.
struct Differences {
    bool status = false;
    bool body = false;
    bool fields = false;

    bool any() const { return status || body || fields; }
};

Differences compare(const Answer& running, const Answer& other);
// "status 200 vs 503; body a1b2c3d4 vs 9f8e7d6c; content-type text/html vs text/plain"
std::string describe(const Differences& differences, const Answer& running, const Answer& other);

// Whether `other_ms` is within the tolerance of `running_ms` (a percentile of each version).
bool latencyWithin(double running_ms, double other_ms, const Tolerance& tolerance);

}  // namespace hotgate::shadow

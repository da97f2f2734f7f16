// The result of one `gwctl verify` (docs/verification.md): per route, how many mirrored
// requests were compared, how many differed and in which part of the answer, both versions'
// latency p50/p99 and whether they are within tolerance. It travels in the Verify reply as
// JSON and gwctl prints it as a table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "shadow/shadow_answer.h"
#include "shadow/shadow_tap.h"

namespace hotgate::shadow {

enum class ReportKind {
    Compare,  // the running version against the ready one, on live samples
    Replay,   // the running version now against its own recorded answers
};

struct RouteTally {
    std::string route;
    std::uint64_t samples = 0;
    std::uint64_t mismatched = 0;  // samples with any difference
    std::uint64_t status = 0, body = 0, fields = 0;
    double running_p50_ms = 0, running_p99_ms = 0, other_p50_ms = 0, other_p99_ms = 0;
    // "ok", or the percentiles out of tolerance ("p99", "p50 p99"); "-" without answers to time.
    std::string latency = "-";

    bool latencyOutOfTolerance() const { return latency != "ok" && latency != "-"; }
    // While adding: each sample's latency, microseconds (not serialized).
    std::vector<std::int64_t> running_us, other_us;
};

struct ShadowReport {
    ReportKind kind = ReportKind::Compare;
    std::string running;  // "1.4.0" (pid 812)
    std::string other;    // the ready version; Replay: "recorded answers"
    std::uint64_t requested = 0;
    std::vector<RouteTally> routes;
    std::vector<std::string> examples;  // the first distinct mismatches, "GET /pay (pay): status 200 vs 503"
    std::string note;                   // why fewer samples than requested

    void add(const Capture& capture, const Answer& running_answer, const Answer& other_answer,
             const Differences& differences);
    // Sets the percentiles from the latencies added, and judges them.
    void finish(const Tolerance& tolerance);
    std::uint64_t samples() const;
    std::uint64_t mismatches() const;  // samples whose answers differ
    std::uint64_t slowRoutes() const;  // routes whose latency is out of tolerance

    nlohmann::json toJson() const;
    static Result<ShadowReport> fromJson(const nlohmann::json& payload);
    // The table gwctl prints, one row per route, then the examples.
    std::string table() const;
};

}  // namespace hotgate::shadow

// Report: the per-second progress line and the JSON summary of a run.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "options.h"
#include "recorder.h"
#include "runner.h"

namespace hotgate::loadgen {

// "t=3s ok=2000 fail=0 p50=0.4ms p99=2.1ms versions={A:1200,B:800}", plus the failures by
// outcome when there are any: "fail=3 (reset=2,timeout=1)". `index` 0 is printed as t=1s.
std::string secondLine(std::size_t index, const SecondTally& second);

// The summary: options, totals per kind and outcome, latency percentiles (ms) overall and per
// kind, versions with their first and last sighting, the per-second series and failure details.
nlohmann::ordered_json summaryJson(const Options& options, const RunResult& result);

std::uint64_t failures(const Tally& tally);  // every outcome but ok, skipped included
std::uint64_t successes(const Tally& tally);

}  // namespace hotgate::loadgen

#include "report.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "new_connection_load.h"

namespace hotgate::loadgen {
namespace {

using json = nlohmann::ordered_json;

double ms(std::chrono::microseconds us) { return std::round(static_cast<double>(us.count())) / 1000.0; }

std::string formatMs(std::chrono::microseconds us) {
    char text[32];
    const double value = static_cast<double>(us.count()) / 1000.0;
    std::snprintf(text, sizeof(text), value < 10 ? "%.2fms" : "%.1fms", value);
    return text;
}

json latencyJson(const LatencyHistogram& histogram) {
    return json{{"count", histogram.count()},
                {"mean", std::round(histogram.meanMicros()) / 1000.0},
                {"p50", ms(histogram.percentile(0.50))},
                {"p90", ms(histogram.percentile(0.90))},
                {"p99", ms(histogram.percentile(0.99))},
                {"p99.9", ms(histogram.percentile(0.999))},
                {"max", ms(histogram.max())}};
}

json outcomesJson(const OutcomeCounts& counts, bool only_nonzero) {
    json out = json::object();
    for (std::size_t o = 0; o < kOutcomes; ++o)
        if (!only_nonzero || counts[o]) out[std::string(outcomeName(outcomeAt(o)))] = counts[o];
    return out;
}

json versionsJson(const VersionMap& versions) {
    json out = json::object();
    for (const auto& [name, seen] : versions)
        out[name] = {{"count", seen.count},
                     {"first_s", std::round(seen.first_s * 1000) / 1000},
                     {"last_s", std::round(seen.last_s * 1000) / 1000}};
    return out;
}

std::uint64_t failuresIn(const OutcomeCounts& counts) {
    std::uint64_t n = 0;
    for (std::size_t o = 0; o < kOutcomes; ++o)
        if (outcomeAt(o) != Outcome::kOk) n += counts[o];
    return n;
}

}  // namespace

std::uint64_t failures(const Tally& tally) {
    std::uint64_t n = 0;
    for (const auto& counts : tally.outcomes) n += failuresIn(counts);
    return n;
}

std::uint64_t successes(const Tally& tally) {
    std::uint64_t n = 0;
    for (const auto& counts : tally.outcomes) n += counts[index(Outcome::kOk)];
    return n;
}

std::string secondLine(std::size_t index, const SecondTally& second) {
    OutcomeCounts all{};
    for (const auto& counts : second.outcomes)
        for (std::size_t o = 0; o < kOutcomes; ++o) all[o] += counts[o];
    std::map<std::string, std::uint64_t> versions;
    for (const auto& per_kind : second.versions)
        for (const auto& [name, n] : per_kind) versions[name] += n;

    std::string line = "t=" + std::to_string(index + 1) + "s ok=" + std::to_string(all[0]) +
                       " fail=" + std::to_string(failuresIn(all));
    if (failuresIn(all)) {
        line += " (";
        bool first = true;
        for (std::size_t o = 1; o < kOutcomes; ++o) {
            if (!all[o]) continue;
            line += (first ? "" : ",") + std::string(outcomeName(outcomeAt(o))) + "=" + std::to_string(all[o]);
            first = false;
        }
        line += ")";
    }
    line += " p50=" + formatMs(second.latency.percentile(0.5)) + " p99=" + formatMs(second.latency.percentile(0.99));
    line += " versions={";
    bool first = true;
    for (const auto& [name, n] : versions) {
        line += (first ? "" : ",") + name + ":" + std::to_string(n);
        first = false;
    }
    line += "}";
    return line;
}

json summaryJson(const Options& options, const RunResult& result) {
    const Tally& total = result.total;
    json summary;
    summary["target"] = options.target_text;
    summary["options"] = {{"duration_s", options.duration_s},
                          {"rate", options.rate},
                          {"keepalive", options.keepalive},
                          {"keepalive_mode", std::string(keepaliveModeName(options.keepalive_mode))},
                          {"pause_min_ms", options.pause_min_ms},
                          {"pause_max_ms", options.pause_max_ms},
                          {"streams", options.streams},
                          {"stream_interval_ms", options.stream_interval_ms},
                          {"path", options.path},
                          {"stream_path", options.stream_path},
                          {"timeout_ms", options.timeout_ms},
                          {"max_lag_ms", options.max_lag_ms},
                          {"threads", options.threads}};
    summary["elapsed_s"] = std::round(result.elapsed_s * 1000) / 1000;
    summary["hard_stopped"] = result.hard_stopped;
    summary["ok"] = successes(total);
    summary["failed"] = failures(total);
    summary["success"] = failures(total) == 0 && !result.hard_stopped;

    OutcomeCounts all{};
    LatencyHistogram overall;
    VersionMap versions;
    json kinds = json::object();
    for (std::size_t k = 0; k < kTrafficKinds; ++k) {
        const TrafficKind kind = kindAt(k);
        for (std::size_t o = 0; o < kOutcomes; ++o) all[o] += total.outcomes[k][o];
        overall.merge(total.latency[k]);
        for (const auto& [name, seen] : total.versions[k]) {
            auto [it, inserted] = versions.try_emplace(name, seen);
            if (inserted) continue;
            it->second.count += seen.count;
            it->second.first_s = std::min(it->second.first_s, seen.first_s);
            it->second.last_s = std::max(it->second.last_s, seen.last_s);
        }
        json entry = {{"outcomes", outcomesJson(total.outcomes[k], false)},
                      {"failed", failuresIn(total.outcomes[k])},
                      {"connections", total.connections[k]},
                      {"latency_ms", latencyJson(total.latency[k])},
                      {"versions", versionsJson(total.versions[k])}};
        if (kind == TrafficKind::kNewConnection) {
            entry["scheduled"] = NewConnectionLoad::scheduledTotal(options);
            // The client's own lag behind its timetable: large values mean loadgen, not the
            // target, was the bottleneck (more --threads, or a less busy box).
            entry["start_lag_ms"] = latencyJson(total.start_lag);
        }
        if (kind == TrafficKind::kKeepalive) entry["clean_closes"] = total.clean_closes[k];
        json errors = json::object();
        for (std::size_t o = 0; o < kOutcomes; ++o)
            if (!total.details[k][o].empty()) errors[std::string(outcomeName(outcomeAt(o)))] = total.details[k][o];
        entry["errors"] = errors;
        kinds[std::string(kindName(kind))] = entry;
    }
    summary["outcomes"] = outcomesJson(all, false);
    summary["latency_ms"] = latencyJson(overall);
    summary["versions"] = versionsJson(versions);
    summary["kinds"] = kinds;

    json series = json::array();
    for (std::size_t s = 0; s < result.seconds.size(); ++s) {
        const SecondTally& second = result.seconds[s];
        OutcomeCounts sum{};
        json by_kind = json::object();
        std::map<std::string, std::uint64_t> second_versions;
        for (std::size_t k = 0; k < kTrafficKinds; ++k) {
            for (std::size_t o = 0; o < kOutcomes; ++o) sum[o] += second.outcomes[k][o];
            for (const auto& [name, n] : second.versions[k]) second_versions[name] += n;
            by_kind[std::string(kindName(kindAt(k)))] = {{"outcomes", outcomesJson(second.outcomes[k], true)},
                                                         {"versions", second.versions[k]}};
        }
        series.push_back({{"t", s + 1},
                          {"ok", sum[index(Outcome::kOk)]},
                          {"failed", failuresIn(sum)},
                          {"outcomes", outcomesJson(sum, true)},
                          {"p50_ms", ms(second.latency.percentile(0.5))},
                          {"p99_ms", ms(second.latency.percentile(0.99))},
                          {"max_ms", ms(second.latency.max())},
                          {"versions", second_versions},
                          {"kinds", by_kind}});
    }
    summary["per_second"] = series;
    return summary;
}

}  // namespace hotgate::loadgen

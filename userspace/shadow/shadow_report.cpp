#include "shadow/shadow_report.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace hotgate::shadow {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxExamples = 10;

double percentileMs(std::vector<std::int64_t> values, double quantile) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<std::size_t>(std::lround(quantile * static_cast<double>(values.size() - 1)));
    return static_cast<double>(values[std::min(rank, values.size() - 1)]) / 1000.0;
}

std::string_view kindName(ReportKind kind) { return kind == ReportKind::Replay ? "replay" : "compare"; }

}  // namespace

void ShadowReport::add(const Capture& capture, const Answer& running_answer, const Answer& other_answer,
                       const Differences& differences) {
    auto tally = std::find_if(routes.begin(), routes.end(), [&](const RouteTally& t) { return t.route == capture.route; });
    if (tally == routes.end()) {
        routes.emplace_back().route = capture.route;
        tally = routes.end() - 1;
    }
    ++tally->samples;
    tally->status += differences.status;
    tally->body += differences.body;
    tally->fields += differences.fields;
    if (running_answer.status != 0) tally->running_us.push_back(running_answer.latency.count());
    if (other_answer.status != 0) tally->other_us.push_back(other_answer.latency.count());
    if (!differences.any()) return;
    ++tally->mismatched;
    std::string example =
        capture.method + " " + capture.target + " (" + capture.route + "): " + describe(differences, running_answer, other_answer);
    if (examples.size() < kMaxExamples && std::find(examples.begin(), examples.end(), example) == examples.end())
        examples.push_back(std::move(example));
}

void ShadowReport::finish(const Tolerance& tolerance) {
    for (auto& tally : routes) {
        tally.running_p50_ms = percentileMs(tally.running_us, 0.5);
        tally.running_p99_ms = percentileMs(tally.running_us, 0.99);
        tally.other_p50_ms = percentileMs(tally.other_us, 0.5);
        tally.other_p99_ms = percentileMs(tally.other_us, 0.99);
        if (tally.running_us.empty() || tally.other_us.empty()) continue;
        std::string out;
        if (!latencyWithin(tally.running_p50_ms, tally.other_p50_ms, tolerance)) out = "p50";
        if (!latencyWithin(tally.running_p99_ms, tally.other_p99_ms, tolerance)) out += out.empty() ? "p99" : " p99";
        tally.latency = out.empty() ? "ok" : out;
        if (!out.empty() && examples.size() < kMaxExamples) {
            std::ostringstream example;
            example << std::fixed << std::setprecision(1) << "route " << tally.route << ": latency p50 "
                    << tally.running_p50_ms << "ms vs " << tally.other_p50_ms << "ms, p99 " << tally.running_p99_ms
                    << "ms vs " << tally.other_p99_ms << "ms: beyond " << tolerance.latency_share * 100 << "% or "
                    << static_cast<double>(tolerance.latency_floor.count()) / 1000.0 << "ms";
            examples.push_back(example.str());
        }
    }
    std::sort(routes.begin(), routes.end(), [](const RouteTally& a, const RouteTally& b) { return a.route < b.route; });
}

std::uint64_t ShadowReport::samples() const {
    std::uint64_t total = 0;
    for (const auto& tally : routes) total += tally.samples;
    return total;
}

std::uint64_t ShadowReport::mismatches() const {
    std::uint64_t total = 0;
    for (const auto& tally : routes) total += tally.mismatched;
    return total;
}

std::uint64_t ShadowReport::slowRoutes() const {
    return static_cast<std::uint64_t>(
        std::count_if(routes.begin(), routes.end(), [](const RouteTally& t) { return t.latencyOutOfTolerance(); }));
}

json ShadowReport::toJson() const {
    json out{{"kind", kindName(kind)}, {"running", running}, {"other", other}, {"requested", requested},
             {"examples", examples}, {"note", note}, {"routes", json::array()}};
    for (const auto& t : routes)
        out["routes"].push_back({{"route", t.route}, {"samples", t.samples}, {"mismatched", t.mismatched},
                                 {"status", t.status}, {"body", t.body}, {"fields", t.fields},
                                 {"latency", t.latency}, {"running_p50_ms", t.running_p50_ms},
                                 {"running_p99_ms", t.running_p99_ms}, {"other_p50_ms", t.other_p50_ms},
                                 {"other_p99_ms", t.other_p99_ms}});
    return out;
}

Result<ShadowReport> ShadowReport::fromJson(const json& payload) {
    try {
        ShadowReport report;
        const auto kind = payload.at("kind").get<std::string>();
        if (kind != "compare" && kind != "replay") return fail("verify report: unknown kind '", kind, "'");
        report.kind = kind == "replay" ? ReportKind::Replay : ReportKind::Compare;
        report.running = payload.at("running").get<std::string>();
        report.other = payload.at("other").get<std::string>();
        report.requested = payload.at("requested").get<std::uint64_t>();
        report.examples = payload.value("examples", std::vector<std::string>{});
        report.note = payload.value("note", std::string());
        for (const auto& r : payload.at("routes")) {
            RouteTally t;
            t.route = r.at("route").get<std::string>();
            t.samples = r.at("samples").get<std::uint64_t>();
            t.mismatched = r.at("mismatched").get<std::uint64_t>();
            t.status = r.at("status").get<std::uint64_t>();
            t.body = r.at("body").get<std::uint64_t>();
            t.fields = r.at("fields").get<std::uint64_t>();
            t.latency = r.at("latency").get<std::string>();
            t.running_p50_ms = r.at("running_p50_ms").get<double>();
            t.running_p99_ms = r.at("running_p99_ms").get<double>();
            t.other_p50_ms = r.at("other_p50_ms").get<double>();
            t.other_p99_ms = r.at("other_p99_ms").get<double>();
            report.routes.push_back(std::move(t));
        }
        return report;
    } catch (const json::exception& e) {
        return fail("verify report: ", e.what());
    }
}

std::string ShadowReport::table() const {
    const bool replay = kind == ReportKind::Replay;
    std::ostringstream out;
    out << (replay ? "replayed against " : "compared ") << running << (replay ? "'s recorded answers" : " with " + other)
        << ": " << samples() << " of " << requested << " samples, " << mismatches() << " mismatched";
    if (slowRoutes() > 0) out << ", latency out of tolerance on " << slowRoutes() << " route(s)";
    out << "\n";
    std::size_t width = 5;
    for (const auto& t : routes) width = std::max(width, t.route.size());
    const char* before = replay ? "before" : "running";
    const char* after = replay ? "now" : "new";
    out << std::left << std::setw(static_cast<int>(width)) << "ROUTE" << std::right << std::setw(9) << "SAMPLES"
        << std::setw(8) << "STATUS" << std::setw(6) << "BODY" << std::setw(9) << "HEADERS" << std::setw(9)
        << "LATENCY" << std::setw(14) << (std::string(before) + " p50") << std::setw(9) << "p99" << std::setw(12)
        << (std::string(after) + " p50") << std::setw(9) << "p99" << "\n";
    out << std::fixed << std::setprecision(1);
    for (const auto& t : routes)
        out << std::left << std::setw(static_cast<int>(width)) << t.route << std::right << std::setw(9) << t.samples
            << std::setw(8) << t.status << std::setw(6) << t.body << std::setw(9) << t.fields << std::setw(9)
            << t.latency << std::setw(12) << t.running_p50_ms << "ms" << std::setw(7) << t.running_p99_ms << "ms"
            << std::setw(10) << t.other_p50_ms << "ms" << std::setw(7) << t.other_p99_ms << "ms\n";
    if (!note.empty()) out << "note: " << note << "\n";
    for (const auto& example : examples) out << "mismatch: " << example << "\n";
    return out.str();
}

}  // namespace hotgate::shadow

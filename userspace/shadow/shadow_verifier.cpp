#include "shadow/shadow_verifier.h"


namespace hotgate::shadow {
namespace {

// One mirrored request's answer may take this long at most.
constexpr std::chrono::milliseconds kAnswerTimeout{5'000};

}  // namespace

ShadowReport ShadowVerifier::compare(const VerifyPlan& plan, ShadowPath running, ShadowPath other) {
    std::lock_guard lock(run_mutex_);
    ShadowReport report;
    report.kind = ReportKind::Compare;
    report.running = running.version();
    report.other = other.version();
    report.requested = plan.samples;
    std::vector<Recorded> recorded;
    const auto deadline = std::chrono::steady_clock::now() + plan.timeout;
    tap_.arm(plan.samples, plan.routes);
    // Samples already queued wait no longer than the deadline either: gwctl's wait is bounded.
    while (recorded.size() < plan.samples && std::chrono::steady_clock::now() < deadline) {
        auto capture = tap_.next(deadline);
        if (!capture) break;
        // One after the other, neither waiting behind the other at a serial upstream; who goes
        // first alternates, so neither always meets the caches the other warmed.
        Answer running_answer;
        Answer theirs;
        if (recorded.size() % 2 == 0) {
            running_answer = running.exchange(*capture, plan.tolerance.fields, kAnswerTimeout);
            theirs = other.exchange(*capture, plan.tolerance.fields, kAnswerTimeout);
        } else {
            theirs = other.exchange(*capture, plan.tolerance.fields, kAnswerTimeout);
            running_answer = running.exchange(*capture, plan.tolerance.fields, kAnswerTimeout);
        }
        report.add(*capture, running_answer, theirs, shadow::compare(running_answer, theirs));
        recorded.push_back({std::move(*capture), std::move(running_answer)});
    }
    tap_.disarm();
    if (recorded.size() < plan.samples)
        report.note = "only " + std::to_string(recorded.size()) + " of " + std::to_string(plan.samples) +
                      " mirrorable requests came within " + std::to_string(plan.timeout.count()) + "ms";
    report.finish(plan.tolerance);
    if (!recorded.empty()) recorded_ = std::move(recorded);
    return report;
}

Result<ShadowReport> ShadowVerifier::replay(const Tolerance& tolerance, ShadowPath running) {
    std::lock_guard lock(run_mutex_);
    if (recorded_.empty())
        return fail("no recorded samples to replay: gwctl verify records them while a new version is ready");
    ShadowReport report;
    report.kind = ReportKind::Replay;
    report.running = running.version();
    report.other = "recorded answers";
    report.requested = recorded_.size();
    for (const auto& sample : recorded_) {
        // The fields recorded then, whatever the config says now.
        std::vector<std::string> fields;
        for (const auto& [name, value] : sample.answer.fields) fields.push_back(name);
        const Answer now = running.exchange(sample.capture, fields, kAnswerTimeout);
        // Columns: before (recorded) and now, as the table reads.
        report.add(sample.capture, sample.answer, now, shadow::compare(sample.answer, now));
    }
    report.finish(tolerance);
    return report;
}

}  // namespace hotgate::shadow

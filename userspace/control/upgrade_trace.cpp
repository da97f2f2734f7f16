#include "control/upgrade_trace.h"

namespace hotgate::control {

using telemetry::StatusCode;

UpgradeTrace::UpgradeTrace(telemetry::SpanSink* sink, std::function<std::uint64_t()> handed_off)
    : tracer_(sink), handed_off_(std::move(handed_off)) {}

void UpgradeTrace::admitted(int pid, const std::string& version) {
    std::lock_guard lock(mutex_);
    if (trace_) endAll(StatusCode::Error, "a new upgrade began before this one ended");
    trace_.emplace(tracer_, "hot-update");
    trace_->root().setAttribute("successor.pid", static_cast<std::int64_t>(pid));
    trace_->root().setAttribute("successor.version", version);
    successor_pid_ = pid;
    if (early_stages_ && early_stages_->pid == pid &&
        std::chrono::steady_clock::now() - early_stages_at_ < std::chrono::minutes(1))
        addStages(*trace_, early_stages_->stages);
    early_stages_.reset();
    auto& start = trace_->stage("hot-update:start");
    start.setAttribute("pid", static_cast<std::int64_t>(pid));
    start.setAttribute("version", version);
}

void UpgradeTrace::gwctlStages(const UpgradeStagesReport& report) {
    std::lock_guard lock(mutex_);
    if (report.pid != 0 && trace_ && successor_pid_ == report.pid) {
        addStages(*trace_, report.stages);
        return;
    }
    if (report.pid != 0) {
        early_stages_ = report;
        early_stages_at_ = std::chrono::steady_clock::now();
        return;
    }
    // gwctl stopped at a failed stage: nothing ran, the trace is those stages.
    telemetry::StagedTrace refused(tracer_, "hot-update");
    addStages(refused, report.stages);
    std::string why = "gwctl stopped before the new version ran";
    for (const auto& stage : report.stages)
        if (!stage.ok) why = std::string(gwctlStageName(stage.stage)) + ": " + stage.message;
    refused.finish(StatusCode::Error, why);
}

// `stages` as children of `trace`'s root, which starts no later than the first. They do not
// touch the open stage.
void UpgradeTrace::addStages(telemetry::StagedTrace& trace, const std::vector<ReportedStage>& stages) {
    for (const auto& reported : stages) {
        if (reported.start_unix_nanos < trace.root().span().start_unix_nanos)
            trace.root().setStartTime(reported.start_unix_nanos);
        auto span = tracer_.startChildSpan(trace.root(), gwctlStageName(reported.stage));
        span.setStartTime(reported.start_unix_nanos);
        for (const auto& [key, value] : reported.attributes.items()) {
            if (value.is_string())
                span.setAttribute(key, value.get<std::string>());
            else if (value.is_boolean())
                span.setAttribute(key, value.get<bool>());
            else if (value.is_number_integer())
                span.setAttribute(key, value.get<std::int64_t>());
            else if (value.is_number())
                span.setAttribute(key, value.get<double>());
        }
        span.setStatus(reported.ok ? StatusCode::Ok : StatusCode::Error, reported.message);
        span.endAt(reported.end_unix_nanos);
    }
}

void UpgradeTrace::ready(std::uint32_t slot) {
    std::lock_guard lock(mutex_);
    if (!trace_) return;
    if (auto* start = trace_->openStage()) start->setAttribute("slot", static_cast<std::int64_t>(slot));
    trace_->stage("hot-update:ready").setAttribute("slot", static_cast<std::int64_t>(slot));
}

void UpgradeTrace::shadowVerified(std::uint64_t start_unix_nanos, std::uint64_t samples, std::uint64_t mismatches,
                                  const std::string& problem) {
    std::lock_guard lock(mutex_);
    if (!trace_) return;
    auto span = tracer_.startChildSpan(trace_->root(), "hot-update:shadow-verify");
    span.setStartTime(start_unix_nanos);
    span.setAttribute("samples", static_cast<std::int64_t>(samples));
    span.setAttribute("mismatches", static_cast<std::int64_t>(mismatches));
    span.setStatus(problem.empty() ? StatusCode::Ok : StatusCode::Error, problem);
}

void UpgradeTrace::cutOver(std::chrono::microseconds write, bool bpf) {
    std::lock_guard lock(mutex_);
    if (!trace_) return;
    auto& swap = trace_->stage("hot-update:swap");
    swap.setAttribute("latency_ms", static_cast<double>(write.count()) / 1000.0);
    swap.setAttribute("rollback_safe", true);  // until commit, a rollback is the same write back
    swap.setAttribute("mode", bpf ? "bpf" : "takeover");
    trace_->endStage(StatusCode::Ok);
}

void UpgradeTrace::committed() {
    std::lock_guard lock(mutex_);
    if (!trace_) return;
    trace_->stage("hot-update:commit");
    handed_off_at_commit_ = handed_off_();
    committed_at_ = std::chrono::steady_clock::now();
}

void UpgradeTrace::rolledBack(const std::string& why, bool automatic) {
    std::lock_guard lock(mutex_);
    if (!trace_) return;
    auto& rollback = trace_->stage("hot-update:rollback");
    rollback.setAttribute("reason", why);
    rollback.setAttribute("automatic", automatic);
    trace_->endStage(StatusCode::Ok);
    endAll(StatusCode::Error, "rolled back: " + why);
}

void UpgradeTrace::gaveUp(const std::string& why) {
    std::lock_guard lock(mutex_);
    if (trace_) endAll(StatusCode::Error, why);
}

void UpgradeTrace::finish() {
    std::lock_guard lock(mutex_);
    if (!trace_) return;
    if (auto* commit = trace_->openStage(); commit && committed_at_) {
        commit->setAttribute("connections_moved", static_cast<std::int64_t>(handed_off_() - handed_off_at_commit_));
        const auto drained = std::chrono::steady_clock::now() - *committed_at_;
        commit->setAttribute("drained_ms", static_cast<std::int64_t>(
                                               std::chrono::duration_cast<std::chrono::milliseconds>(drained).count()));
        endAll(StatusCode::Ok, {});
        return;
    }
    endAll(StatusCode::Error, "this version stopped during the upgrade");
}

// Under mutex_: ends the open stage and the root with `status`.
void UpgradeTrace::endAll(StatusCode status, const std::string& message) {
    trace_->finish(status, message);
    trace_.reset();
    committed_at_.reset();
}

}  // namespace hotgate::control

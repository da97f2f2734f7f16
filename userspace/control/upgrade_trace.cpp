#include "control/upgrade_trace.h"

namespace hotgate::control {

using telemetry::StatusCode;

UpgradeTrace::UpgradeTrace(telemetry::SpanSink* sink, std::function<std::uint64_t()> handed_off)
    : tracer_(sink), handed_off_(std::move(handed_off)) {}

void UpgradeTrace::admitted(int pid, const std::string& version) {
    std::lock_guard lock(mutex_);
    if (root_) endAll(StatusCode::Error, "a new upgrade began before this one ended");
    root_.emplace(tracer_.startRootSpan("hot-update"));
    root_->setAttribute("successor.pid", static_cast<std::int64_t>(pid));
    root_->setAttribute("successor.version", version);
    stage_.emplace(tracer_.startChildSpan(*root_, "hot-update:start"));
    stage_->setAttribute("pid", static_cast<std::int64_t>(pid));
    stage_->setAttribute("version", version);
}

void UpgradeTrace::ready(std::uint32_t slot) {
    std::lock_guard lock(mutex_);
    if (!root_) return;
    if (stage_) {
        stage_->setAttribute("slot", static_cast<std::int64_t>(slot));
        stage_->setStatus(StatusCode::Ok);
        stage_->end();
    }
    stage_.emplace(tracer_.startChildSpan(*root_, "hot-update:ready"));
    stage_->setAttribute("slot", static_cast<std::int64_t>(slot));
}

void UpgradeTrace::cutOver(std::chrono::microseconds write, bool bpf) {
    std::lock_guard lock(mutex_);
    if (!root_) return;
    if (stage_) {
        stage_->setStatus(StatusCode::Ok);
        stage_->end();
        stage_.reset();
    }
    auto swap = tracer_.startChildSpan(*root_, "hot-update:swap");
    swap.setAttribute("latency_ms", static_cast<double>(write.count()) / 1000.0);
    swap.setAttribute("rollback_safe", true);  // until commit, a rollback is the same write back
    swap.setAttribute("mode", bpf ? "bpf" : "takeover");
    swap.setStatus(StatusCode::Ok);
}

void UpgradeTrace::committed() {
    std::lock_guard lock(mutex_);
    if (!root_) return;
    stage_.emplace(tracer_.startChildSpan(*root_, "hot-update:commit"));
    handed_off_at_commit_ = handed_off_();
    committed_at_ = std::chrono::steady_clock::now();
}

void UpgradeTrace::rolledBack(const std::string& why, bool automatic) {
    std::lock_guard lock(mutex_);
    if (!root_) return;
    if (stage_) {
        stage_->end();
        stage_.reset();
    }
    auto rollback = tracer_.startChildSpan(*root_, "hot-update:rollback");
    rollback.setAttribute("reason", why);
    rollback.setAttribute("automatic", automatic);
    rollback.setStatus(StatusCode::Ok);
    rollback.end();
    endAll(StatusCode::Error, "rolled back: " + why);
}

void UpgradeTrace::gaveUp(const std::string& why) {
    std::lock_guard lock(mutex_);
    if (root_) endAll(StatusCode::Error, why);
}

void UpgradeTrace::finish() {
    std::lock_guard lock(mutex_);
    if (!root_) return;
    if (stage_ && committed_at_) {
        stage_->setAttribute("connections_moved", static_cast<std::int64_t>(handed_off_() - handed_off_at_commit_));
        stage_->setAttribute("drained_ms", static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                           std::chrono::steady_clock::now() - *committed_at_)
                                                                           .count()));
        endAll(StatusCode::Ok, {});
        return;
    }
    endAll(StatusCode::Error, "this version stopped during the upgrade");
}

// Under mutex_: ends the open stage and the root with `status`.
void UpgradeTrace::endAll(StatusCode status, const std::string& message) {
    if (stage_) {
        stage_->setStatus(status, message);
        stage_->end();
        stage_.reset();
    }
    root_->setStatus(status, message);
    root_->end();
    root_.reset();
    committed_at_.reset();
}

}  // namespace hotgate::control

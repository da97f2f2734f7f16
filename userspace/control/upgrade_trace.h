// UpgradeTrace: each upgrade the running version conducts as one OpenTelemetry trace
// (docs/telemetry.md "Upgrade traces"). Root span `hot-update`, children in order:
// `hot-update:start` (Hello to Ready: pid, version, slot), `hot-update:ready` (until cutover or
// rollback) with any `hot-update:shadow-verify` (gwctl verify) beside it, `hot-update:swap` (the cutover: latency_ms of the control entry write,
// rollback_safe), then `hot-update:commit` (until this version has handed its connections over
// and drained: connections_moved, drained_ms) or `hot-update:rollback` (reason, automatic).
// A successor that fails before cutover ends the trace with ERROR and the reason.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "control/upgrade_ports.h"
#include "control/upgrade_stages.h"
#include "telemetry/staged_trace.h"
#include "telemetry/tracer.h"

namespace hotgate::control {

class UpgradeTrace final : public UpgradeJournal {
public:
    // `sink` nullptr: nothing is exported. `handed_off` reads how many connections this version
    // has handed over so far.
    UpgradeTrace(telemetry::SpanSink* sink, std::function<std::uint64_t()> handed_off);
    ~UpgradeTrace() override { finish(); }

    void admitted(int pid, const std::string& version) override;
    void ready(std::uint32_t slot) override;
    void cutOver(std::chrono::microseconds write, bool bpf) override;
    void committed() override;
    void rolledBack(const std::string& why, bool automatic) override;
    void gaveUp(const std::string& why) override;

    // What gwctl did before the new version ran (download, verify, pre-check): children of the
    // upgrade of successor `report.pid` whether its Hello came first or not; with pid 0 (gwctl
    // stopped at a failed stage) a whole trace of their own, ERROR.
    void gwctlStages(const UpgradeStagesReport& report);

    // A `gwctl verify` of the ready version that began at `start_unix_nanos` and ends now: a
    // `hot-update:shadow-verify` child (samples, mismatches), ERROR with `problem` when not empty.
    void shadowVerified(std::uint64_t start_unix_nanos, std::uint64_t samples, std::uint64_t mismatches,
                        const std::string& problem);

    // This version is done (it drained after a commit, or stops): ends what is open.
    void finish();

private:
    void endAll(telemetry::StatusCode status, const std::string& message);
    // Under mutex_: `stages` as children of `trace`'s root.
    void addStages(telemetry::StagedTrace& trace, const std::vector<ReportedStage>& stages);

    telemetry::Tracer tracer_;
    std::function<std::uint64_t()> handed_off_;
    std::mutex mutex_;
    std::optional<telemetry::StagedTrace> trace_;  // its open stage: start, ready or commit
    int successor_pid_ = 0;                        // of the open trace
    // Reported by gwctl before its successor's Hello arrived; dropped after a minute.
    std::optional<UpgradeStagesReport> early_stages_;
    std::chrono::steady_clock::time_point early_stages_at_;
    std::uint64_t handed_off_at_commit_ = 0;
    std::optional<std::chrono::steady_clock::time_point> committed_at_;  // set: the open stage is commit
};

}  // namespace hotgate::control

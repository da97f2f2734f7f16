// UpgradeStages: what gwctl did for an upgrade before the new version ran (download, verify,
// pre-check), reported to the running version so that its upgrade trace holds them
// (docs/telemetry.md "Upgrade traces"). gwctl times the stages; the running version records
// them as children of the upgrade's `hot-update` span, with those times.
//
// Payload: {"pid": <successor pid, 0 when gwctl stopped before launching one>,
//           "stages": [{"name": "hot-update:verify", "start_unix_nanos": N, "end_unix_nanos": N,
//                       "ok": bool, "message": "why it failed", "attributes": {"k": scalar}}]}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace hotgate::control {

// The stages gwctl may report, in the order it runs them.
enum class GwctlStage { Download, Verify, PreCheck };
std::string_view gwctlStageName(GwctlStage stage);  // "hot-update:download", ...

struct ReportedStage {
    GwctlStage stage = GwctlStage::PreCheck;
    std::uint64_t start_unix_nanos = 0;
    std::uint64_t end_unix_nanos = 0;  // >= start
    bool ok = true;
    std::string message;                                      // why it failed
    nlohmann::json attributes = nlohmann::json::object();    // values: string, number or bool
};

struct UpgradeStagesReport {
    int pid = 0;  // the successor gwctl launched; 0: it stopped before (a stage failed)
    std::vector<ReportedStage> stages;

    nlohmann::json toJson() const;
    // Refuses, naming the field: an unknown stage name, an end before the start, a non-scalar
    // attribute, more than 8 stages, a negative pid.
    static Result<UpgradeStagesReport> fromJson(const nlohmann::json& payload);
};

}  // namespace hotgate::control

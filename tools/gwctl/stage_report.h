// The stages `gwctl upgrade` runs before the new version does (download, verify, pre-check),
// timed here and reported to the running version for its upgrade trace
// (control/upgrade_stages.h, docs/telemetry.md "Upgrade traces").
#pragma once

#include <cstdint>
#include <string>

#include "control/upgrade_stages.h"
#include "release/artifact.h"

namespace gwctl {

struct GlobalOptions;

class StageReport {
public:
    // The download (a URL) and verify (a digest or signature asked for) stages of `artifact`,
    // which prepareArtifact began at `started_unix_nanos`.
    void addArtifact(const hotgate::release::ArtifactReport& artifact, std::uint64_t started_unix_nanos);
    // The new binary's --check-config of the config it will serve: `output` is what it printed.
    void addPreCheck(std::uint64_t started_unix_nanos, bool ok, const std::string& output,
                     std::chrono::milliseconds ready_timeout);

    // Sends the stages (with the new version's pid, 0 when none was started). Best effort: a
    // running version from before this report, or one that refuses it, only costs the trace
    // its gwctl stages.
    void send(const GlobalOptions& global, int successor_pid) const;

private:
    hotgate::control::UpgradeStagesReport report_;
};

}  // namespace gwctl

// How a running version serves, as other versions, gwctl and /status see it: its data plane
// mode and its phase. The names are wire and API text (control/protocol.h, admin /status):
// never change one.
#pragma once

#include <optional>
#include <string_view>

namespace hotgate {

// How new connections reach a version: BPF steering by version slot, or (when BPF cannot be
// used) SO_REUSEPORT listening sockets handed over by fd at upgrade time.
enum class DataplaneMode { Takeover, Bpf };

constexpr std::string_view dataplaneModeName(DataplaneMode mode) {
    return mode == DataplaneMode::Bpf ? "bpf" : "takeover";
}

constexpr std::optional<DataplaneMode> parseDataplaneMode(std::string_view name) {
    if (name == "bpf") return DataplaneMode::Bpf;
    if (name == "takeover") return DataplaneMode::Takeover;
    return std::nullopt;
}

// Where a version is in its life. A successor is Ready (serving on its own sockets, no new
// connections yet) until cutover makes it Active and its predecessor Standby; a version that
// drains (SIGTERM, or handing its connections over after commit or rollback) is Draining.
enum class VersionPhase { Starting, Ready, Active, Standby, Draining };

constexpr std::string_view versionPhaseName(VersionPhase phase) {
    switch (phase) {
        case VersionPhase::Starting: return "starting";
        case VersionPhase::Ready: return "ready";
        case VersionPhase::Active: return "active";
        case VersionPhase::Standby: return "standby";
        case VersionPhase::Draining: return "draining";
    }
    return "?";
}

constexpr std::optional<VersionPhase> parseVersionPhase(std::string_view name) {
    for (auto phase : {VersionPhase::Starting, VersionPhase::Ready, VersionPhase::Active, VersionPhase::Standby,
                       VersionPhase::Draining})
        if (versionPhaseName(phase) == name) return phase;
    return std::nullopt;
}

}  // namespace hotgate

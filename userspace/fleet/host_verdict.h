// The health verdict a fleet host reports in its status (docs/fleet.md, "Health verdict"), which
// a rollout's gate reads: the config engine's verification of the document applied, then this
// process's TCP health profile against its baseline, the reading taken just before the apply.
// A pure function of its inputs, so the rule is tested without a gateway.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hotgate::fleet {

enum class EngineOutcome { Verifying, Verified, RolledBack };
enum class Verdict { Verifying, Healthy, Unhealthy };
std::string_view verdictName(Verdict verdict);

// What the health profile says of this process (health/health_service.h, OwnReading).
struct TcpReading {
    std::uint64_t handshake_p99_us = 0;  // over the monitor's window
    std::uint64_t handshakes = 0;        // in that window
    std::uint64_t connections = 0;       // accepted so far
    std::uint64_t resets_sent = 0;       // on them, so far
};

// Bounds of the TCP part: the handshake p99 may grow to kHandshakeFactor times the baseline's,
// or to kHandshakeFloorUs, whichever is higher; resets sent since the apply, once there are at
// least kResetsFloor of them, may be kResetsFactor times the share of connections they were
// before, or kResetsShareFloor of them, whichever is higher.
inline constexpr double kHandshakeFactor = 4.0;
inline constexpr std::uint64_t kHandshakeFloorUs = 5000;
inline constexpr std::uint64_t kResetsFloor = 10;
inline constexpr double kResetsFactor = 4.0;
inline constexpr double kResetsShareFloor = 0.01;

struct HealthJudgement {
    Verdict verdict = Verdict::Healthy;
    std::string reason;  // why not healthy
};

// `engine_reason`: the engine's words when it rolled back. Without a baseline (or without a
// reading: no BPF, takeover mode) only the engine's outcome counts; a baseline without
// handshakes has no p99 to compare with.
HealthJudgement judgeHealth(EngineOutcome engine, const std::string& engine_reason,
                            const std::optional<TcpReading>& baseline, const std::optional<TcpReading>& now);

}  // namespace hotgate::fleet

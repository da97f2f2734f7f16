#include "fleet/host_verdict.h"

#include <algorithm>
#include <sstream>

namespace hotgate::fleet {
namespace {

template <typename... Parts>
std::string concat(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}

}  // namespace

std::string_view verdictName(Verdict verdict) {
    switch (verdict) {
        case Verdict::Verifying: return "verifying";
        case Verdict::Healthy: return "healthy";
        case Verdict::Unhealthy: return "unhealthy";
    }
    return "unhealthy";
}

HealthJudgement judgeHealth(EngineOutcome engine, const std::string& engine_reason,
                            const std::optional<TcpReading>& baseline, const std::optional<TcpReading>& now) {
    switch (engine) {
        case EngineOutcome::Verifying: return {Verdict::Verifying, {}};
        case EngineOutcome::RolledBack: return {Verdict::Unhealthy, "config engine: " + engine_reason};
        case EngineOutcome::Verified: break;
    }
    if (!baseline || !now) return {};
    if (baseline->handshakes > 0 && now->handshakes > 0) {
        const auto bound = std::max(static_cast<std::uint64_t>(kHandshakeFactor * static_cast<double>(baseline->handshake_p99_us)),
                                    kHandshakeFloorUs);
        if (now->handshake_p99_us > bound)
            return {Verdict::Unhealthy, concat("handshake p99 ", now->handshake_p99_us, " us, above ", bound,
                                               " us (baseline ", baseline->handshake_p99_us, " us)")};
    }
    if (now->resets_sent >= baseline->resets_sent + kResetsFloor) {
        const auto resets = now->resets_sent - baseline->resets_sent;
        const auto connections = std::max<std::uint64_t>(1, now->connections - std::min(now->connections, baseline->connections));
        const double before = static_cast<double>(baseline->resets_sent) /
                              static_cast<double>(std::max<std::uint64_t>(1, baseline->connections));
        const double share = static_cast<double>(resets) / static_cast<double>(connections);
        const double bound = std::max(kResetsFactor * before, kResetsShareFloor);
        if (share > bound)
            return {Verdict::Unhealthy, concat(resets, " resets sent on ", connections,
                                               " connections since the apply, above ", bound * 100,
                                               "% (before: ", before * 100, "%)")};
    }
    return {};
}

}  // namespace hotgate::fleet

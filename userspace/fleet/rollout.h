// A rollout of a fleet config in waves (docs/fleet.md, "Rollouts"): gwctl fleet rollout writes
// it to <prefix>/config.rollout; each host whose id is in one of the first `active` waves of a
// running rollout serves its candidate instead of <prefix>/config; the others, and every host
// once it is done or rolled back, serve <prefix>/config (to which a finished rollout's
// candidate is written).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/error.h"

namespace hotgate::fleet {

enum class RolloutState { Running, Done, RolledBack };

struct Rollout {
    std::string id;
    std::string candidate;  // the fleet document (YAML) being rolled out
    std::vector<std::vector<std::string>> waves;  // host ids, wave by wave
    std::size_t active = 0;  // waves whose hosts serve the candidate
    RolloutState state = RolloutState::Running;
    std::string reason;  // why it was rolled back

    // Whether `host` serves the candidate now.
    bool includes(const std::string& host) const;
    std::string toJson() const;
    static Result<Rollout> fromJson(const std::string& text);
};

inline std::string rolloutKey(const std::string& prefix) { return prefix + "/config.rollout"; }
std::string_view rolloutStateName(RolloutState state);

// The waves of `spec` ("1,25%,100%": each entry a count of hosts or a share of them, counted
// from the start) over `hosts` in their order; waves that add no host are left out. Fails on a
// malformed entry, a count beyond the hosts, or entries that go down.
Result<std::vector<std::vector<std::string>>> planWaves(const std::string& spec, const std::vector<std::string>& hosts);

}  // namespace hotgate::fleet

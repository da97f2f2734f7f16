// A rollout in waves (docs/fleet.md, "Rollouts"), of a fleet config or of a binary: gwctl fleet
// rollout (or upgrade) writes it to <prefix>/config.rollout. Of a config: each host whose id is
// in one of the first `active` waves of a running rollout serves its candidate instead of
// <prefix>/config; the others, and every host once it is done or rolled back, serve
// <prefix>/config (to which a finished rollout's candidate is written). Of a binary: each such
// host runs the binary as its new version (upgrade, cutover, commit); once the rollout is
// rolled back, every host returns to the binary it ran before (`previous`).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"

namespace hotgate::fleet {

enum class RolloutState { Running, Done, RolledBack };

// A binary a host is to run: where it is (a path on the host, or a URL) and its SHA-256.
struct BinaryTarget {
    std::string source;
    std::string sha256;  // 64 lower-case hex digits
};

struct Rollout {
    std::string id;
    std::string candidate;  // the fleet document (YAML) being rolled out; empty for a binary
    std::vector<std::vector<std::string>> waves;  // host ids, wave by wave
    std::size_t active = 0;  // waves whose hosts serve the candidate
    RolloutState state = RolloutState::Running;
    std::string reason;  // why it was rolled back
    std::optional<BinaryTarget> binary;           // a binary rollout's
    std::map<std::string, std::string> previous;  // host id -> the SHA-256 it ran before

    // Whether `host` serves the candidate (runs the binary) now.
    bool includes(const std::string& host) const;
    // The binary `host` is to run under this record, if it says: the rollout's while the host
    // is in an active wave; after a rollback, the one it ran before (found in `stash`, the
    // host's copies by SHA-256).
    std::optional<BinaryTarget> binaryFor(const std::string& host, const std::string& stash) const;
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

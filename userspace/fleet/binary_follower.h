// BinaryFollower: a fleet host's part in a binary rollout (docs/fleet.md, "Binary rollouts").
// It knows the SHA-256 of the binary this process runs. Told to run another, it first keeps a
// copy of its own in the stash (beside last_good, hotgate-bin-<sha256>) so that a rollback can
// return to it, then hands the target to `upgrade`, which verifies it, checks the config with
// it, and runs it as the new version (upgrade, cutover, commit): this process then drains and
// exits, and the new one follows the rollout from there. One attempt per rollout and target.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "common/error.h"
#include "fleet/rollout.h"

namespace hotgate::fleet {

class BinaryFollower {
public:
    using Upgrade = std::function<Result<std::string>(const BinaryTarget& target)>;
    enum class Outcome { Nothing, Upgraded, Failed };
    struct Step {
        Outcome outcome = Outcome::Nothing;
        std::string message;  // what happened, or why it failed
    };

    // `own`: the running binary (/proc/self/exe); its SHA-256 is read here.
    BinaryFollower(std::filesystem::path stash, std::filesystem::path own = "/proc/self/exe");

    const std::string& ownSha256() const { return own_sha256_; }  // empty when unreadable
    const std::filesystem::path& stash() const { return stash_; }

    // Moves this host to `target` (what the rollout `rollout_id` asks of it) unless it runs it
    // already, or tried it already.
    Step follow(const std::string& rollout_id, const std::optional<BinaryTarget>& target, const Upgrade& upgrade);

private:
    // The running binary's copy in the stash, written once (0755, atomically).
    Result<void> keepOwnCopy();

    std::filesystem::path stash_;
    std::filesystem::path own_;
    std::string own_sha256_;
    std::string attempted_;  // "<rollout id>/<sha256>" last tried
};

}  // namespace hotgate::fleet

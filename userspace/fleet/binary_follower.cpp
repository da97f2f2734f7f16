#include "fleet/binary_follower.h"

#include <sys/stat.h>

#include "observability/logging.h"
#include "release/artifact_verify.h"

namespace hotgate::fleet {

BinaryFollower::BinaryFollower(std::filesystem::path stash, std::filesystem::path own)
    : stash_(std::move(stash)), own_(std::move(own)) {
    if (auto digest = release::sha256OfFile(own_))
        own_sha256_ = std::move(*digest);
    else
        log::warn("fleet: cannot hash the running binary: ", digest.error().message,
                  "; binary rollouts will not find it");
}

Result<void> BinaryFollower::keepOwnCopy() {
    if (own_sha256_.empty()) return fail("the running binary's SHA-256 is unknown");
    const auto copy = stash_ / ("hotgate-bin-" + own_sha256_);
    std::error_code ec;
    if (std::filesystem::exists(copy, ec)) return {};
    const auto temporary = copy.string() + ".tmp";
    if (!std::filesystem::copy_file(own_, temporary, std::filesystem::copy_options::overwrite_existing, ec))
        return fail("keep a copy of the running binary at ", temporary, ": ", ec.message());
    ::chmod(temporary.c_str(), 0755);
    std::filesystem::rename(temporary, copy, ec);
    if (ec) return fail("rename ", temporary, " to ", copy.string(), ": ", ec.message());
    return {};
}

BinaryFollower::Step BinaryFollower::follow(const std::string& rollout_id, const std::optional<BinaryTarget>& target,
                                            const Upgrade& upgrade) {
    if (!target || target->sha256 == own_sha256_) return {};
    const std::string attempt = rollout_id + "/" + target->sha256;
    if (attempt == attempted_) return {};
    attempted_ = attempt;
    log::info("fleet: rollout ", rollout_id, " asks for ", target->source, " (sha256 ", target->sha256.substr(0, 12),
              "); this host runs ", own_sha256_.substr(0, 12));
    if (auto kept = keepOwnCopy(); !kept)
        return {Outcome::Failed, "cannot keep the running binary for a rollback: " + kept.error().message};
    auto upgraded = upgrade(*target);
    if (!upgraded) return {Outcome::Failed, upgraded.error().message};
    return {Outcome::Upgraded, *upgraded};
}

}  // namespace hotgate::fleet

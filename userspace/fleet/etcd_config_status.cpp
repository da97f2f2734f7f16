// EtcdConfigSource, the host status side (docs/fleet.md, "Host status"): the states, the
// engine's verdict taken when it comes, the status document with the health verdict, and the
// loop that keeps it at <prefix>/hosts/<host_id> under a lease.
#include <unistd.h>

#include <chrono>

#include "fleet/etcd_config_source.h"
#include "observability/logging.h"

namespace hotgate::fleet {
namespace {

constexpr std::chrono::seconds kLeaseTtl{10};
constexpr std::chrono::seconds kRenewEvery{3};

}  // namespace

std::string_view hostStateName(HostState state) {
    switch (state) {
        case HostState::Starting: return "starting";
        case HostState::Serving: return "serving";
        case HostState::ServingLastGood: return "serving_last_good";
        case HostState::Verifying: return "verifying";
        case HostState::Refused: return "refused";
        case HostState::RolledBack: return "rolled_back";
        case HostState::NoConfig: return "no_config";
        case HostState::HandedOver: return "handed_over";
        case HostState::UpgradeFailed: return "upgrade_failed";
    }
    return "starting";
}

void EtcdConfigSource::setStatus(HostState state, std::vector<std::string> problems) {
    {
        std::lock_guard lock(mutex_);
        state_ = state;
        problems_ = std::move(problems);
        ++status_generation_;
    }
    changed_.notify_all();
}

bool EtcdConfigSource::settleVerification() {
    std::uint64_t verification;
    {
        std::lock_guard lock(mutex_);
        if (engine_ != EngineOutcome::Verifying) return false;
        verification = verification_;
    }
    const auto verdict = hooks_.verdict_of ? hooks_.verdict_of(verification) : std::optional<std::string>("verified");
    if (!verdict) return true;
    std::string path;
    {
        std::lock_guard lock(mutex_);
        if (engine_ != EngineOutcome::Verifying || verification_ != verification) return true;  // a newer apply
        if (verdict->rfind("rolled back", 0) == 0) {
            // Applied, then undone by the verification: the host serves what it had before.
            engine_ = EngineOutcome::RolledBack;
            engine_reason_ = *verdict;
            refused_revision_ = revision_;
            revision_ = revision_before_;
            served_text_ = text_before_;
            if (state_ == HostState::Verifying) {  // else a newer document's refusal stands
                state_ = HostState::RolledBack;
                problems_ = {*verdict};
            }
            log::warn("fleet: ", fleetName(), " at mod_revision ", refused_revision_, " failed verification: ", *verdict);
        } else {
            engine_ = EngineOutcome::Verified;
            if (state_ == HostState::Verifying) state_ = HostState::Serving;
            path = verifying_path_;
        }
        ++status_generation_;
    }
    if (!path.empty()) writeLastGood(path);
    return false;
}

nlohmann::json EtcdConfigSource::statusDocument() {
    const auto now = readHealth();
    std::lock_guard lock(mutex_);
    const bool undone = state_ == HostState::Refused || state_ == HostState::RolledBack;
    const auto judgement = judgeHealth(engine_, engine_reason_, baseline_, now);
    nlohmann::json health = nullptr;
    if (now)
        health = {{"handshake_p99_us", now->handshake_p99_us},
                  {"baseline_handshake_p99_us", baseline_ ? baseline_->handshake_p99_us : 0},
                  {"connections_since_apply", now->connections - std::min(now->connections, baseline_ ? baseline_->connections : 0)},
                  {"resets_sent_since_apply", now->resets_sent - std::min(now->resets_sent, baseline_ ? baseline_->resets_sent : 0)}};
    return {{"host", source_.host_id},
            {"version", hooks_.version ? hooks_.version() : std::string()},
            {"binary_sha256", follower_.ownSha256()},
            {"pid", ::getpid()},
            {"revision", revision_},
            {"refused_revision", undone ? refused_revision_ : 0},
            {"rollout", rollout_},
            {"state", hostStateName(state_)},
            {"verdict", verdictName(judgement.verdict)},
            {"verdict_reason", judgement.reason},
            {"health", health},
            {"problems", problems_},
            {"updated", std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()}};
}

void EtcdConfigSource::statusLoop() {
    constexpr auto kVerdictPoll = std::chrono::milliseconds(50);
    const std::string key = source_.prefix + "/hosts/" + source_.host_id;
    std::int64_t lease = 0;
    std::uint64_t published = 0;
    auto next_renewal = std::chrono::steady_clock::now();
    bool verifying = false;
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            const auto until = verifying ? std::min(next_renewal, std::chrono::steady_clock::now() + kVerdictPoll)
                                         : next_renewal;
            changed_.wait_until(lock, until, [&] { return stopping_ || status_generation_ != published; });
            if (stopping_) return;
        }
        verifying = settleVerification();
        std::uint64_t generation;
        {
            std::lock_guard lock(mutex_);
            generation = status_generation_;
        }
        const auto now = std::chrono::steady_clock::now();
        const bool renew = now >= next_renewal;
        if (!renew && generation == published) continue;
        if (renew) {
            next_renewal = now + kRenewEvery;
            // Renewed, and written again every round: another process of this host (the version
            // before an upgrade, on its way out) may have written its own meanwhile.
            if (lease != 0) {
                auto alive = status_client_.keepAlive(lease);
                if (!alive || !*alive) lease = 0;  // expired or unreachable: registered again below
            }
        }
        if (lease == 0) {
            auto granted = status_client_.grantLease(kLeaseTtl);
            if (!granted) {
                log::debug("fleet: status: ", granted.error().message);
                next_renewal = std::min(next_renewal, now + std::chrono::milliseconds(500));
                continue;
            }
            lease = *granted;
        }
        if (auto put = status_client_.put(key, statusDocument().dump(), lease); !put) {
            log::debug("fleet: status: ", put.error().message);
            lease = 0;  // expired, perhaps: granted again and written on the next round
            next_renewal = std::min(next_renewal, now + std::chrono::milliseconds(500));
            continue;
        }
        published = generation;
    }
}

}  // namespace hotgate::fleet

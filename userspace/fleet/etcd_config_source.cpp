#include "fleet/etcd_config_source.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>

#include "common/atomic_file.h"
#include "config/config_loader.h"
#include "fleet/config_document.h"
#include "fleet/rollout.h"
#include "observability/logging.h"

namespace hotgate::fleet {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kFirstBackoff{200};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr int kCandidatesKept = 3;

}  // namespace

EtcdConfigSource::EtcdConfigSource(EtcdSourceConfig source, std::string local_path, const std::string& local_text)
    : source_(std::move(source)),
      local_path_(std::move(local_path)),
      local_text_(localPart(local_text)),
      watch_client_(source_.endpoints, std::chrono::milliseconds(3000), source_.tls),
      status_client_(source_.endpoints, std::chrono::milliseconds(3000), source_.tls),
      follower_(std::filesystem::path(source_.last_good).parent_path()) {}

EtcdConfigSource::~EtcdConfigSource() { stop(); }

std::string EtcdConfigSource::documentName(const Effective& effective) const {
    return effective.rollout.empty() ? fleetName()
                                     : "etcd " + rolloutKey(source_.prefix) + " candidate " + effective.rollout;
}

Result<std::string> EtcdConfigSource::candidateFile(const EtcdValue& kv, const std::string& name) {
    auto merged = mergeConfig(local_text_, local_path_, kv.value, name, kv.mod_revision);
    if (!merged) return tl::unexpected(merged.error());
    const auto directory = std::filesystem::path(source_.last_good).parent_path();
    const auto path = (directory / ("hotgate-etcd-" + std::to_string(kv.mod_revision) + ".yaml")).string();
    auto loaded = loadConfigText(merged->text, path);
    if (!loaded) {
        std::string message;
        for (const auto& problem : attributeProblems(loaded.error(), *merged, name))
            message += (message.empty() ? "" : "\n") + problem.format();
        return fail(message);
    }
    if (auto written = writeFileAtomically(path, merged->text); !written) return tl::unexpected(written.error());
    // Keep the newest few candidates: the file a running version was loaded from stays.
    std::vector<std::filesystem::path> old;
    std::error_code ignored;
    std::string served;
    {
        std::lock_guard lock(mutex_);
        served = served_path_;
    }
    for (const auto& entry : std::filesystem::directory_iterator(directory, ignored))
        if (entry.path().filename().string().starts_with("hotgate-etcd-") && entry.path() != served &&
            entry.path().extension() == ".yaml")
            old.push_back(entry.path());
    std::sort(old.begin(), old.end(), [](const auto& a, const auto& b) {
        const auto revision = [](const std::filesystem::path& p) {
            return std::atoll(p.filename().string().substr(13).c_str());
        };
        return revision(a) > revision(b);
    });
    for (std::size_t i = kCandidatesKept; i < old.size(); ++i) std::filesystem::remove(old[i], ignored);
    return path;
}

EtcdConfigSource::Effective EtcdConfigSource::effectiveOf(const EtcdList& keys) const {
    Effective effective;
    std::optional<Rollout> rollout;
    std::int64_t rollout_revision = 0;
    for (const auto& [key, value] : keys.kvs) {
        if (key == fleetKey()) {
            effective.document = value;
        } else if (key == rolloutKey(source_.prefix)) {
            rollout_revision = value.mod_revision;
            if (auto parsed = Rollout::fromJson(value.value))
                rollout = std::move(*parsed);
            else
                log::warn("fleet: ", rolloutKey(source_.prefix), " ignored: ", parsed.error().message);
        } else {
            continue;
        }
        effective.generation = std::max(effective.generation, value.mod_revision);
    }
    if (rollout && rollout->binary) {
        effective.binary = rollout->binaryFor(source_.host_id, follower_.stash().string());
        effective.binary_rollout = rollout->id;
    } else if (rollout && rollout->includes(source_.host_id)) {
        effective.document = EtcdValue{rollout->candidate, rollout_revision};
        effective.rollout = rollout->id;
    }
    return effective;
}

Result<EtcdConfigSource::Start> EtcdConfigSource::prepareStart() {
    Start start;
    auto read = watch_client_.list(fleetKey());
    if (read) {
        const auto effective = effectiveOf(*read);
        if (effective.document) {
            auto path = candidateFile(*effective.document, documentName(effective));
            if (!path) return fail("the config in ", documentName(effective), " (mod_revision ", effective.document->mod_revision,
                                   effective.rollout.empty() ? "" : ", rollout " + effective.rollout, ") is refused:\n",
                                   path.error().message);
            start.path = *path;
            start.fleet_text = effective.document->value;
            start.revision = effective.document->mod_revision;
            start.generation = effective.generation;
            start.rollout = effective.rollout;
            start.watch_from = read->revision;
            return start;
        }
    }
    // etcd cannot be reached, or holds no config: the last config applied, with this host's
    // current part.
    const std::string why = read ? fleetName() + " holds no config (etcd " + watch_client_.endpoint() + ")"
                                 : "etcd cannot be reached (" + read.error().message + ")";
    const std::string last = readFileText(source_.last_good).value_or("");
    const std::string fleet = etcdPart(last);
    if (fleet.empty()) return fail(why, " and ", source_.last_good, " holds no config applied from it");
    std::int64_t revision = 0;
    if (const auto at = last.find(", mod_revision "); at != std::string::npos)
        revision = std::atoll(last.c_str() + at + 15);
    auto path = candidateFile(EtcdValue{fleet, revision}, fleetName());
    if (!path) return fail(why, " and the config in ", source_.last_good, " is refused:\n", path.error().message);
    log::warn(why, ": serving ", source_.last_good, " (mod_revision ", revision, ") until it can");
    start.path = *path;
    start.fleet_text = fleet;
    start.revision = revision;
    start.generation = revision;
    start.watch_from = revision;
    start.from_last_good = true;
    return start;
}

void EtcdConfigSource::run(const Start& start, Hooks hooks) {
    hooks_ = std::move(hooks);
    auto baseline = readHealth();
    {
        std::lock_guard lock(mutex_);
        generation_ = start.generation;
        revision_ = start.revision;
        served_text_ = start.fleet_text;
        served_path_ = start.path;
        rollout_ = start.rollout;
        watch_from_ = start.watch_from;
        state_ = start.from_last_good ? HostState::ServingLastGood : HostState::Serving;
        baseline_ = baseline;
    }
    if (!start.from_last_good) writeLastGood(start.path);
    watcher_ = std::thread([this] { watchLoop(); });
    status_ = std::thread([this] { statusLoop(); });
}

void EtcdConfigSource::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    changed_.notify_all();
    watch_client_.interruptWatch();
    if (watcher_.joinable()) watcher_.join();
    if (status_.joinable()) status_.join();
}

void EtcdConfigSource::writeLastGood(const std::string& path) {
    if (auto written = writeFileAtomically(source_.last_good, readFileText(path).value_or("")); !written)
        log::warn("fleet: cannot keep the applied config: ", written.error().message);
}

Result<std::int64_t> EtcdConfigSource::catchUp() {
    auto read = watch_client_.list(fleetKey());
    if (!read) return tl::unexpected(read.error());
    const auto effective = effectiveOf(*read);
    if (!effective.document) {
        log::warn("fleet: ", fleetName(), " is gone; serving what this host has");
        setStatus(HostState::NoConfig, {});
    } else {
        applyEffective(effective);
    }
    followBinary(effective);
    return read->revision;
}

void EtcdConfigSource::applyEffective(const Effective& effective) {
    const EtcdValue& document = *effective.document;
    const std::string origin = "etcd mod_revision " + std::to_string(document.mod_revision) +
                               (effective.rollout.empty() ? "" : " (rollout " + effective.rollout + ")");
    {
        std::lock_guard lock(mutex_);
        // Only forward: what is at or below the generation served is never applied. Below it
        // means etcd's store went back (restored from an older snapshot): said once a revision.
        if (effective.generation < generation_ && effective.generation != behind_warned_) {
            behind_warned_ = effective.generation;
            log::warn("fleet: ", fleetName(), " is at mod_revision ", effective.generation, ", below the ",
                      generation_, " this host serves: not applied (etcd restored from an older snapshot?); ",
                      "it applies the next document above ", generation_);
        }
        if (effective.generation <= generation_) {
            if (state_ == HostState::ServingLastGood) {  // etcd reached: what it has is current
                state_ = HostState::Serving;
                ++status_generation_;
                changed_.notify_all();
            }
            return;
        }
        generation_ = effective.generation;
        if (document.value == served_text_) {
            // The same document under another revision (a rollout's next wave, or its candidate
            // written to <prefix>/config at the end): nothing to apply.
            revision_ = document.mod_revision;
            rollout_ = effective.rollout;
            if (engine_ != EngineOutcome::Verifying) {  // else its verdict decides
                state_ = HostState::Serving;
                engine_ = EngineOutcome::Verified;
                problems_.clear();
            }
            ++status_generation_;
            changed_.notify_all();
            return;
        }
    }
    auto refuse = [&](std::vector<std::string> problems) {
        {
            std::lock_guard lock(mutex_);
            rollout_ = effective.rollout;  // a refused candidate says which rollout it was
            refused_revision_ = document.mod_revision;
        }
        log::warn("fleet: ", documentName(effective), " at ", origin, " refused; serving what this host has: ",
                  problems.front());
        setStatus(HostState::Refused, std::move(problems));
    };
    auto path = candidateFile(document, documentName(effective));
    if (!path) {
        std::vector<std::string> problems;
        std::istringstream lines(path.error().message);
        for (std::string line; std::getline(lines, line);) problems.push_back(line);
        refuse(std::move(problems));
        return;
    }
    // The health profile's numbers before the apply are the baseline.
    auto baseline = readHealth();
    const auto reply = hooks_.apply(*path, origin);
    if (!reply.value("ok", false)) {
        std::vector<std::string> problems{reply.value("message", std::string())};
        for (const auto& problem : reply.value("problems", nlohmann::json::array()))
            if (problem.is_string()) problems.push_back(problem.get<std::string>());
        refuse(std::move(problems));
        return;
    }
    log::info("fleet: applied ", fleetName(), " at ", origin, ": ", reply.value("message", std::string()));
    // Served from here on. In place, the engine's verification window runs: the state is
    // Verifying until its verdict (settleVerification); a new version was verified on its way.
    const std::uint64_t verification = reply.value("verification", std::uint64_t{0});
    {
        std::lock_guard lock(mutex_);
        // What the engine returns to if its verification rolls this back.
        text_before_ = served_text_;
        revision_before_ = revision_;
        served_text_ = document.value;
        served_path_ = *path;
        revision_ = document.mod_revision;
        rollout_ = effective.rollout;
        baseline_ = baseline;
        engine_reason_.clear();
        verification_ = verification;
        verifying_path_ = *path;
        engine_ = verification == 0 ? EngineOutcome::Verified : EngineOutcome::Verifying;
    }
    if (verification == 0) writeLastGood(*path);
    setStatus(verification == 0 ? HostState::Serving : HostState::Verifying, {});
}

void EtcdConfigSource::watchLoop() {
    auto backoff = kFirstBackoff;
    std::int64_t from;
    {
        std::lock_guard lock(mutex_);
        from = watch_from_;
    }
    bool need_read = true;  // what a binary rollout asks of this host, and anything since the start
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            if (stopping_) return;
        }
        if (need_read) {
            auto read = catchUp();
            if (!read) {
                log::debug("fleet: ", read.error().message);
                std::unique_lock lock(mutex_);
                changed_.wait_for(lock, backoff, [this] { return stopping_; });
                backoff = std::min(backoff * 2, kMaxBackoff);
                continue;
            }
            from = *read;
            need_read = false;
        }
        // <prefix>/config and <prefix>/config.rollout (every key that starts with the first).
        const auto end = watch_client_.watch(
            fleetKey(), from + 1,
            [&](std::int64_t mod_revision) {
                from = std::max(from, mod_revision);
                // The event says a change happened; the keys are read whole, as they are now.
                std::int64_t generation;
                {
                    std::lock_guard lock(mutex_);
                    generation = generation_;
                }
                if (mod_revision > generation) {
                    if (auto read = catchUp(); read) from = std::max(from, *read);
                }
                backoff = kFirstBackoff;
            },
            /*prefix=*/true);
        switch (end.kind) {
            case WatchEnd::Kind::Interrupted: return;
            case WatchEnd::Kind::Compacted:
                log::info("fleet: ", fleetName(), " was compacted past revision ", from + 1, " (to ",
                          end.compact_revision, "): reading it again");
                need_read = true;
                continue;
            case WatchEnd::Kind::Failed: break;
        }
        log::debug("fleet: watch ended: ", end.error, "; again in ", backoff.count(), " ms");
        need_read = true;  // whatever happened meanwhile is read, then watched from there
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, backoff, [this] { return stopping_; });
        backoff = std::min(backoff * 2, kMaxBackoff);
    }
}

void EtcdConfigSource::followBinary(const Effective& effective) {
    if (!hooks_.upgrade_to) return;
    const auto step = follower_.follow(effective.binary_rollout, effective.binary, hooks_.upgrade_to);
    switch (step.outcome) {
        case BinaryFollower::Outcome::Nothing: return;
        case BinaryFollower::Outcome::Upgraded:
            log::info("fleet: rollout ", effective.binary_rollout, ": ", step.message);
            setStatus(HostState::HandedOver, {});
            return;
        case BinaryFollower::Outcome::Failed:
            log::warn("fleet: rollout ", effective.binary_rollout, ": ", step.message, "; this version serves on");
            {
                std::lock_guard lock(mutex_);
                rollout_ = effective.binary_rollout;
            }
            setStatus(HostState::UpgradeFailed, {step.message});
            return;
    }
}

}  // namespace hotgate::fleet

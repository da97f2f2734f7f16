// EtcdConfigSource: a fleet host's config from etcd (docs/fleet.md). At start it merges
// <prefix>/config with the host's own file and serves that, or, when etcd cannot be reached
// (or holds no config), the etcd part of `last_good` with the host's current part, and says
// so. While serving it watches <prefix>/config from the revision it read and applies only a
// higher mod_revision than it has, through the config engine (in place or by a new version); a compacted revision
// means a full re-read, never a missed change. Every applied config is written to `last_good`
// (atomically, 0600). A config the engine refuses is reported with the file's lines
// (etcd <prefix>/config:line) and the host keeps what it serves. The host's status lives at
// <prefix>/hosts/<host_id> under a 10 s lease, renewed and rewritten every 3 s and on change.
// etcd going away changes nothing served: the watch reconnects with backoff across the
// endpoints, and the status is registered again.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "config/config.h"
#include "fleet/binary_follower.h"
#include "fleet/etcd_client.h"
#include "fleet/host_verdict.h"

namespace hotgate::fleet {

// Where a host stands with the fleet's document (docs/fleet.md, "Host status").
enum class HostState {
    Starting,
    Serving,          // the document at `revision`
    ServingLastGood,  // started without etcd, not caught up yet
    Verifying,        // applied, inside the config engine's verification window
    Refused,          // the document at `refused_revision` was refused; `problems` says why
    RolledBack,       // ... applied, and rolled back by the config engine's verification
    NoConfig,         // <prefix>/config is gone
    HandedOver,       // a binary rollout's new version took over; this process drains and exits
    UpgradeFailed,    // a binary rollout's binary could not take over; `problems` says why
};
std::string_view hostStateName(HostState state);

class EtcdConfigSource {
public:
    // What the process starts with.
    struct Start {
        std::string path;           // the merged config file to load
        std::string fleet_text;     // its etcd part
        std::int64_t revision = 0;  // the mod_revision of the key that part came from
        std::int64_t generation = 0;  // the highest mod_revision of <prefix>/config and its rollout
        std::string rollout;        // the rollout whose candidate it is, if it is one
        std::int64_t watch_from = 0;  // the store revision read: changes after it are watched
        bool from_last_good = false;
    };
    // What the source needs of the gateway it runs in.
    struct Hooks {
        // Applies a merged config file; the config engine's reply once it serves it ({"ok",
        // "message", "problems", and "verification" for an in-place change, whose window runs).
        std::function<nlohmann::json(const std::string& path, const std::string& origin)> apply;
        // The engine's verdict on a verification ("verified", "rolled back: ..."); nullopt while
        // its window runs.
        std::function<std::optional<std::string>(std::uint64_t verification)> verdict_of;
        // The serving version ("0.1.0-abc/hash"), for the status.
        std::function<std::string()> version;
        // This process's TCP health reading; nullopt when the health profile is unavailable.
        std::function<std::optional<TcpReading>()> health;
        // Runs `target` as the new version (verified, config checked, cut over, committed).
        BinaryFollower::Upgrade upgrade_to;
    };

    // `local_path` and `local_text`: the file the process was started with (the host's own, or
    // a merged one whose host part is used).
    EtcdConfigSource(EtcdSourceConfig source, std::string local_path, const std::string& local_text);
    ~EtcdConfigSource();
    EtcdConfigSource(const EtcdConfigSource&) = delete;
    EtcdConfigSource& operator=(const EtcdConfigSource&) = delete;

    Result<Start> prepareStart();

    // Once the gateway serves `start`: keeps last_good, registers the host, and watches.
    void run(const Start& start, Hooks hooks);
    void stop();

private:
    // What this host serves of a read of <prefix>/config and <prefix>/config.rollout: the
    // rollout's candidate while the host is in one of its active waves, else the config.
    struct Effective {
        std::optional<EtcdValue> document;
        std::int64_t generation = 0;  // the higher mod_revision of the two keys: only forward
        std::string rollout;
        std::optional<BinaryTarget> binary;  // what a binary rollout asks this host to run
        std::string binary_rollout;
    };
    Effective effectiveOf(const EtcdList& keys) const;
    std::string fleetKey() const { return source_.prefix + "/config"; }
    std::string fleetName() const { return "etcd " + fleetKey(); }
    // Where `effective`'s document came from, for problems and the merged file's marker.
    std::string documentName(const Effective& effective) const;
    // Merges, validates and writes the candidate file for `kv` (named `name`); the problems,
    // attributed. Older candidates are removed, never the one served.
    Result<std::string> candidateFile(const EtcdValue& kv, const std::string& name);
    void writeLastGood(const std::string& path);
    void watchLoop();
    void statusLoop();
    // Reads <prefix>/config and applies it when newer than what is served; the store revision read.
    Result<std::int64_t> catchUp();
    void applyEffective(const Effective& effective);
    void followBinary(const Effective& effective);
    void setStatus(HostState state, std::vector<std::string> problems);
    // Takes the engine's verdict on the verification running, if it came: the state moves on
    // from Verifying. Whether one is still running.
    bool settleVerification();
    std::optional<TcpReading> readHealth() const { return hooks_.health ? hooks_.health() : std::nullopt; }
    nlohmann::json statusDocument();

    EtcdSourceConfig source_;
    std::string local_path_;
    std::string local_text_;  // the host's own part
    EtcdClient watch_client_;
    EtcdClient status_client_;
    BinaryFollower follower_;
    Hooks hooks_;

    std::mutex mutex_;
    std::condition_variable changed_;
    std::int64_t generation_ = 0;       // of what was last applied or refused (0: none yet)
    std::int64_t revision_ = 0;         // the mod_revision of the key what is served came from
    std::string served_text_;           // the etcd part served
    std::string served_path_;           // the merged file a version of this host was started or applied with
    std::string rollout_;               // the rollout whose candidate is served (or was refused)
    std::int64_t refused_revision_ = 0;
    std::int64_t behind_warned_ = 0;    // a generation below generation_ logged  // the mod_revision of the last document refused
    std::int64_t watch_from_ = 0;
    HostState state_ = HostState::Starting;
    std::vector<std::string> problems_;
    EngineOutcome engine_ = EngineOutcome::Verified;  // of the last document applied
    std::string engine_reason_;
    std::optional<TcpReading> baseline_;  // read just before that apply
    std::uint64_t verification_ = 0;      // the engine's, while Verifying
    std::string verifying_path_;          // the merged file under verification
    std::int64_t revision_before_ = 0;    // what the engine returns to if it rolls back
    std::string text_before_;
    std::uint64_t status_generation_ = 0;
    bool stopping_ = false;
    std::thread watcher_;
    std::thread status_;
};

}  // namespace hotgate::fleet

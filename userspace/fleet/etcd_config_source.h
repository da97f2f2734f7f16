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
#include "fleet/etcd_client.h"

namespace hotgate::fleet {

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
    // Applies a merged config file; the config engine's reply ({"ok", "message", "problems"}).
    using Apply = std::function<nlohmann::json(const std::string& path, const std::string& origin)>;

    // `local_path` and `local_text`: the file the process was started with (the host's own, or
    // a merged one whose host part is used).
    EtcdConfigSource(EtcdSourceConfig source, std::string local_path, const std::string& local_text);
    ~EtcdConfigSource();
    EtcdConfigSource(const EtcdConfigSource&) = delete;
    EtcdConfigSource& operator=(const EtcdConfigSource&) = delete;

    Result<Start> prepareStart();

    // Once the gateway serves `start`: keeps last_good, registers the host, and watches.
    // `version` gives the serving version ("0.1.0-abc/hash") for the status.
    void run(const Start& start, Apply apply, std::function<std::string()> version);
    void stop();

private:
    // What this host serves of a read of <prefix>/config and <prefix>/config.rollout: the
    // rollout's candidate while the host is in one of its active waves, else the config.
    struct Effective {
        std::optional<EtcdValue> document;
        std::int64_t generation = 0;  // the higher mod_revision of the two keys: only forward
        std::string rollout;
    };
    Effective effectiveOf(const EtcdList& keys) const;
    std::string fleetKey() const { return source_.prefix + "/config"; }
    std::string fleetName() const { return "etcd " + fleetKey(); }
    // Merges, validates and writes the candidate file for `kv`; the problems, attributed.
    Result<std::string> candidateFile(const EtcdValue& kv);
    void writeLastGood(const std::string& path);
    void watchLoop();
    void statusLoop();
    // Reads <prefix>/config and applies it when newer than what is served; the store revision read.
    Result<std::int64_t> catchUp();
    void applyEffective(const Effective& effective);
    void setStatus(const std::string& state, std::vector<std::string> problems);
    nlohmann::json statusDocument();

    EtcdSourceConfig source_;
    std::string local_path_;
    std::string local_text_;  // the host's own part
    EtcdClient watch_client_;
    EtcdClient status_client_;
    Apply apply_;
    std::function<std::string()> version_;

    std::mutex mutex_;
    std::condition_variable changed_;
    std::int64_t generation_ = 0;       // of what was last applied or refused (0: none yet)
    std::int64_t revision_ = 0;         // the mod_revision of the key what is served came from
    std::string served_text_;           // the etcd part served
    std::string rollout_;               // the rollout whose candidate is served (or was refused)
    std::int64_t refused_revision_ = 0;  // the mod_revision of the last document refused
    std::int64_t watch_from_ = 0;
    std::string state_ = "starting";    // serving | serving_last_good | refused | no_config
    std::vector<std::string> problems_;
    std::uint64_t status_generation_ = 0;
    bool stopping_ = false;
    std::thread watcher_;
    std::thread status_;
};

}  // namespace hotgate::fleet

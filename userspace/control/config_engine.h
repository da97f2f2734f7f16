// ConfigEngine: changes the running config live, as one transaction. An apply validates the
// whole file (every problem reported, nothing applied on any), pre-checks what the file only
// names (certificate files), swaps the new snapshot in for all workers at once (or, when the
// change needs new sockets, starts a new version with the same binary through the hot upgrade
// path), then watches a verification window: if the 5xx share or the p99 of the routes the
// change affects got worse beyond the config's bounds compared with the window before, it
// rolls back to the previous snapshot by itself and says why. The last N snapshots are kept
// for `gwctl config rollback` and `gwctl config history`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "config/config.h"
#include "config/config_diff.h"
#include "proxy/route_stats.h"
#include "telemetry/staged_trace.h"
#include "telemetry/tracer.h"

namespace hotgate {
class Gateway;
}

namespace hotgate::control {

// Checks what a config only names: every listener's TLS certificate and key load with OpenSSL.
// (Endpoints are IP literals, checked by the loader: there is nothing to resolve.) Returns one
// "file: path: problem" line per failure.
std::vector<std::string> precheckConfig(const Config& config);

class ConfigEngine {
public:
    // Starts a new version with the same binary and `config_path` through the hot upgrade path,
    // cuts over and commits; returns a description or why it failed.
    using UpgradeToConfig = std::function<Result<std::string>(const std::string& config_path)>;

    // `spans`: where each apply's and rollback's trace goes (docs/telemetry.md); nullptr: nowhere.
    ConfigEngine(Gateway& gateway, UpgradeToConfig upgrade, telemetry::SpanSink* spans = nullptr);
    ~ConfigEngine();
    ConfigEngine(const ConfigEngine&) = delete;
    ConfigEngine& operator=(const ConfigEngine&) = delete;

    // The replies of control/protocol.h's config messages: {"ok": bool, "message", ...}.
    // `origin` says who asked ("gwctl", "SIGHUP"); `wait` holds the reply until the verdict.
    nlohmann::json apply(const std::string& path, const std::string& origin, bool wait);
    // An in-place apply's reply carries "verification": its id. The verdict on it ("verified",
    // "rolled back: <why>", "superseded by ..."), or nullopt while its window runs.
    std::optional<std::string> verdictOf(std::uint64_t verification) const;
    nlohmann::json rollback(const std::string& why);
    nlohmann::json history() const;
    nlohmann::json diffAgainstRunning(const std::string& path) const;

    void stop();

private:
    struct Entry {
        ConfigSnapshot config;
        std::chrono::system_clock::time_point at;
        std::string origin;
        std::string state;  // "serving", "previous", "rolled back: <why>", "replaced"
    };
    struct Verification {
        std::uint64_t id = 0;
        std::vector<std::string> routes;
        std::chrono::steady_clock::time_point started;
        RouteStats::Sample before;    // the window before the change
        RouteStats::Sample at_start;  // cumulative, at the swap
        ConfigEngineConfig bounds;
        std::shared_ptr<telemetry::StagedTrace> trace;  // the apply's, open at config-apply:verify
    };
    struct TimedSample {
        std::chrono::steady_clock::time_point at;
        std::map<std::string, RouteStats::Sample> routes;
    };

    void monitorLoop();
    // Under mutex_: judges the running verification; returns the rollback reason, if any.
    std::optional<std::string> judge(const Verification& v, const RouteStats::Sample& after, bool window_over) const;
    RouteStats::Sample sum(const std::map<std::string, RouteStats::Sample>& sample,
                           const std::vector<std::string>& routes) const;
    // Under mutex_: the window of `length` just before now, summed over `routes`.
    RouteStats::Sample windowBefore(std::chrono::milliseconds length, const std::vector<std::string>& routes);
    // Under mutex_: swaps `entry` back in; the current one gets `state`.
    nlohmann::json rollbackLocked(const std::string& state, const std::string& result);
    void finishVerification(const std::string& verdict);
    // Under mutex_: ends the running verification's trace with its verdict.
    void endVerifyTrace(const std::string& verdict, telemetry::StatusCode code);
    void trimHistory();

    Gateway& gateway_;
    UpgradeToConfig upgrade_;
    telemetry::Tracer tracer_;
    std::mutex apply_mutex_;  // one apply at a time

    mutable std::mutex mutex_;
    std::condition_variable verdict_changed_;
    std::deque<Entry> entries_;  // newest last; the last "serving" one is what runs
    std::optional<Verification> verifying_;
    std::uint64_t next_verification_ = 1;
    std::map<std::uint64_t, std::string> verdicts_;  // verification id -> verdict
    std::deque<TimedSample> samples_;                // route stats every tick, for "the window before"
    bool stopping_ = false;
    std::thread monitor_;
};

}  // namespace hotgate::control

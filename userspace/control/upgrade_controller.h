// UpgradeController: this version's side of a hot upgrade (see control/protocol.h for the
// messages). As the running version it owns the control socket, answers gwctl, hands its
// sockets or BPF maps to a successor, cuts over, commits or rolls back, and rolls back by
// itself when the successor dies or stops beating after cutover. As a successor it keeps the
// link to its predecessor, adopts the connections it is given, and takes over the control
// socket once committed (or once the predecessor is gone).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "control/control_server.h"
#include "control/fd_passing.h"
#include "control/peer_link.h"

namespace hotgate {
class Gateway;
}

namespace hotgate::control {

class ConfigEngine;

// What a successor learns from its predecessor's Handover.
struct Handover {
    int pid = 0;
    std::string version;
    std::string config_hash;
    std::string mode;  // "bpf" or "takeover"
    std::uint32_t active_slot = 0;
    std::vector<std::pair<std::string, std::vector<UniqueFd>>> listeners;  // name -> fds
    std::string ticket_keys;  // TLS session ticket keys (key-file text); empty from an older version
};

// Successor, before its gateway exists: Hello, then the Handover (or the refusal, as an Error).
Result<Handover> requestHandover(PeerLink& link, const std::string& version, const std::string& config_hash);

class UpgradeController {
public:
    // `request_exit` is called (from any thread) when this process should end: after a commit
    // drained it, or after a rollback drained the successor.
    UpgradeController(Gateway& gateway, std::string control_path, std::function<void()> request_exit);
    ~UpgradeController();
    UpgradeController(const UpgradeController&) = delete;
    UpgradeController& operator=(const UpgradeController&) = delete;

    // Running version: start answering on the control socket.
    Result<void> serveControlSocket(bool replace_live = false);

    // Successor: reports Ready and starts following the predecessor on `link`.
    Result<void> followPredecessor(std::shared_ptr<PeerLink> link, const std::string& admin_address,
                                   const Handover& from);

    // For Status replies and gwctl: this version and, if any, its successor.
    nlohmann::json status();

    // The config engine's answer to a change that needs new sockets or workers: starts this
    // same binary with `config_path` as the successor, waits until it is ready, cuts over and
    // commits (this process then hands its connections over and exits). Fails, with the
    // successor's reason, leaving this version serving, if any step fails before cutover.
    Result<std::string> upgradeToConfig(const std::string& config_path, std::chrono::milliseconds ready_timeout);

    // Where config messages (ConfigApply, ...) go; without one they are refused.
    void setConfigEngine(ConfigEngine* engine) { config_engine_ = engine; }

    void stop();

private:
    enum class UpgradeState { None, Starting, Ready, CutOver, Committing };
    struct Successor {
        std::shared_ptr<PeerLink> link;
        int pid = 0;
        std::string version;
        std::uint32_t slot = 0;
        std::string admin;
        nlohmann::json heartbeat = nlohmann::json::object();
        std::chrono::steady_clock::time_point last_beat{};
    };

    // Running-version side.
    void serveConnection(int fd, const ucred& peer);
    void serveSuccessor(std::shared_ptr<PeerLink> link, const Message& hello);
    nlohmann::json configRequest(const Message& message);
    nlohmann::json cutover();
    nlohmann::json commit();
    nlohmann::json rollback(const std::string& why, bool tell_successor);
    void adoptFromPeer(Message& message);
    // Commit (old side) or rollback (new side): this version hands its connections to `link`'s
    // peer at their request boundaries, drains the rest, then asks the process to exit.
    void handOffDrainAndExit(std::shared_ptr<PeerLink> link);

    // Successor side.
    void followLoop();
    void heartbeatLoop();
    void becomeOwner(const std::string& why);

    nlohmann::json selfInfo() const;

    Gateway& gateway_;
    std::string control_path_;
    std::function<void()> request_exit_;
    std::unique_ptr<ControlServer> server_;
    std::atomic<ConfigEngine*> config_engine_{nullptr};

    std::mutex mutex_;
    UpgradeState state_ = UpgradeState::None;
    std::optional<Successor> successor_;
    std::string last_upgrade_error_;

    std::shared_ptr<PeerLink> predecessor_;
    // The predecessor as status shows it while it drains after commit (until its link closes).
    struct Predecessor {
        int pid = 0;
        std::string version;
        std::optional<std::chrono::steady_clock::time_point> drain_deadline;
        bool gone = false;
    };
    Predecessor predecessor_info_;  // guarded by mutex_
    std::atomic<bool> committed_{false};
    std::atomic<bool> stopping_{false};
    std::thread follow_thread_;
    std::thread heartbeat_thread_;
    std::thread drain_thread_;
};

}  // namespace hotgate::control

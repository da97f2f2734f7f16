// UpgradeController: this version's side of a hot upgrade (control/protocol.h), wiring the
// state machines to the real world. As the running version it follows a successor's link
// (UpgradeMachine decides), answers gwctl's upgrade commands, and starts a successor itself
// for a config that needs one (SuccessorLauncher). As a successor it follows its
// predecessor's link (SuccessorMachine decides) and sends heartbeats.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/error.h"
#include "control/gateway_host.h"
#include "control/handover.h"
#include "control/messages.h"
#include "control/peer_link.h"
#include "control/successor_machine.h"
#include "control/upgrade_machine.h"
#include "control/upgrade_stages.h"
#include "control/upgrade_trace.h"
#include "control/verify_request.h"
#include "shadow/shadow_verifier.h"

namespace hotgate {
class Gateway;
}

namespace hotgate::control {

class UpgradeController {
public:
    // `control_path` is the control socket a successor started from here connects to.
    // `request_exit` is called (from any thread) when this process should end: after a commit
    // drained it, or after a rollback drained the successor.
    // `spans` (optional, outliving this) receives each upgrade's trace (control/upgrade_trace.h).
    UpgradeController(Gateway& gateway, std::string control_path, std::function<void()> request_exit,
                      telemetry::SpanSink* spans = nullptr);
    ~UpgradeController();
    UpgradeController(const UpgradeController&) = delete;
    UpgradeController& operator=(const UpgradeController&) = delete;

    // Running version: a successor said `hello` on control connection `fd`. Admits it (and
    // sends the Handover) or refuses it, then follows its link until the link closes.
    void serveSuccessor(int fd, const Message& hello);
    Reply cutover() { return machine_.cutover(); }
    Reply commit() { return machine_.commit(); }
    Reply rollback(const std::string& why) { return machine_.rollback(why); }
    // gwctl's stages before the new version ran, for the upgrade's trace.
    Reply recordGwctlStages(const UpgradeStagesReport& report);
    // gwctl verify: this version's answers against the ready version's on mirrored live
    // requests, or (replay) against its own recorded ones (shadow/shadow_verifier.h). Blocks
    // for the verification.
    Reply verify(const VerifyRequest& request);

    // Successor: reports Ready and starts following the predecessor on `link`. Once in charge
    // it serves the control socket through `take_over_control_socket`.
    Result<void> followPredecessor(std::shared_ptr<PeerLink> link, const std::string& admin_address,
                                   const Handover& from, std::function<Result<void>()> take_over_control_socket);

    // For Status replies and gwctl: this version, its draining predecessor, its successor.
    StatusReply status() const;

    // The config engine's answer to a change that needs new sockets or workers: starts this
    // same binary with `config_path` as the successor, waits until it is ready, cuts over and
    // commits (this process then hands its connections over and exits). Fails, with the
    // successor's reason, leaving this version serving, if any step fails before cutover.
    Result<std::string> upgradeToConfig(const std::string& config_path, std::chrono::milliseconds ready_timeout);
    // The same with another binary (a fleet's binary rollout, docs/fleet.md): verified and
    // config-checked by the caller.
    Result<std::string> upgradeTo(const std::string& binary, const std::string& config_path,
                                  std::chrono::milliseconds ready_timeout);

    void stop();

private:
    void followLoop();
    void heartbeatLoop();
    VersionInfo selfInfo() const;

    Gateway& gateway_;
    const std::string control_path_;
    SteadyClock clock_;
    GatewayHost host_;
    UpgradeTrace trace_;
    UpgradeMachine machine_;

    shadow::ShadowVerifier verifier_;
    std::mutex successor_link_mutex_;
    std::weak_ptr<PeerLink> successor_link_;  // the admitted successor's, for its shadow paths
    int successor_link_pid_ = 0;

    std::shared_ptr<PeerLink> predecessor_;
    std::unique_ptr<SuccessorMachine> as_successor_;  // set once, before the threads start
    std::atomic<bool> stopping_{false};
    std::thread follow_thread_;
    std::thread heartbeat_thread_;
};

}  // namespace hotgate::control

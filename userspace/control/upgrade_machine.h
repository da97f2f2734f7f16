// UpgradeMachine: the running version's side of a hot upgrade (the conversation is in
// control/protocol.h). It admits one successor, follows its Ready, heartbeats and failure,
// cuts over, commits or rolls back on request, and rolls back by itself when the successor
// dies, reports itself unhealthy or goes silent after cutover. Every transition is in
// dispatch(), one switch over UpgradeEvent; timeouts are events that tick() raises from the
// injected Clock. It acts only through its ports (upgrade_ports.h): no sockets, no processes.
// Thread-safe: each call holds one lock, under which the ports are called (they must not call
// back into the machine).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "control/messages.h"
#include "control/upgrade_ports.h"

namespace hotgate::control {

enum class UpgradePhase {
    None,        // no successor
    Starting,    // a successor said Hello and was admitted; not ready yet
    Ready,       // the successor serves on its own sockets; new connections still come here
    CutOver,     // new connections go to the successor; this version is standby
    Committing,  // this version hands its connections to the successor, drains and exits
    RolledBack,  // new connections come here again; the successor hands its connections back
};
std::string_view upgradePhaseName(UpgradePhase phase);
// What StatusReply says: a rolled-back successor is only draining, so no upgrade is under way.
UpgradeState wireState(UpgradePhase phase);

enum class UpgradeEvent {
    Hello,            // a successor connected (gwctl upgrade, or a config change needing a new version)
    Ready,            // the successor serves and passed its own health check
    Failed,           // the successor could not start; its link closes next
    Heartbeat,        // the successor is alive (and says whether it is healthy)
    LinkLost,         // the successor's link closed: it exited or gave up
    ReadyTimedOut,    // clock: no Ready within UpgradeTimeouts::ready of the Hello
    HeartbeatSilent,  // clock: nothing for UpgradeTimeouts::heartbeat_silence after cutover
    Cutover,          // gwctl cutover
    Commit,           // gwctl commit
    Rollback,         // gwctl rollback
};
std::string_view upgradeEventName(UpgradeEvent event);

struct UpgradeTimeouts {
    std::chrono::milliseconds ready{60'000};
    // A dead successor is seen at once, by its link closing; this catches a hung one. Not
    // shorter: a healthy process on a loaded 2-core machine can be descheduled for a while.
    std::chrono::milliseconds heartbeat_silence{3'000};
};

// Whether the controller keeps reading the successor's link after an event.
enum class LinkFate { Follow, Forget };

class UpgradeMachine {
public:
    struct SuccessorView {
        int pid = 0;
        std::string version;
        std::uint32_t slot = 0;  // from its Ready
        bool shadow_paths = false;  // from its Ready: it serves gwctl verify's shadow paths
        std::string admin;
        Heartbeat last_heartbeat;
    };
    struct Snapshot {
        UpgradePhase phase = UpgradePhase::None;
        std::optional<SuccessorView> successor;  // until its link closes (also after a rollback)
        std::string last_error;                  // why the last upgrade failed or was rolled back
    };

    // `journal` (optional) hears of each step, for the upgrade's trace; it must outlive the machine.
    UpgradeMachine(VersionHost& host, const Clock& clock, UpgradeTimeouts timeouts = {},
                   UpgradeJournal* journal = nullptr);
    UpgradeMachine(const UpgradeMachine&) = delete;
    UpgradeMachine& operator=(const UpgradeMachine&) = delete;

    // A successor said Hello on `link`. Returns the refusal to send it, or nothing when it is
    // admitted (Starting): the controller sends the Handover next, and LinkLost if it fails.
    std::optional<std::string> admit(const Hello& hello, std::shared_ptr<PeerChannel> link);
    // What the current successor's link delivered, and its end.
    LinkFate onMessage(const PeerMessage& message);
    LinkFate onLinkLost();
    // Raises the timeouts that are due by the clock; call it whenever the link is quiet.
    LinkFate tick();

    // gwctl's requests, answered as the reply to send.
    Reply cutover();
    Reply commit();
    Reply rollback(const std::string& why);

    Snapshot snapshot() const;

private:
    struct Successor {
        SuccessorView view;
        std::shared_ptr<PeerChannel> link;
        std::chrono::steady_clock::time_point last_beat{};
    };
    struct Event {
        UpgradeEvent kind;
        std::variant<std::monostate, Hello, Ready, Failed, Heartbeat, std::string> payload{};  // string: rollback reason
        std::shared_ptr<PeerChannel> link{};  // Hello
    };
    struct Outcome {
        Reply reply = Reply::success("");
        LinkFate fate = LinkFate::Follow;
    };

    // The transition table: under mutex_.
    Outcome dispatch(const Event& event);
    Reply rollBack(const std::string& why, bool tell_successor, bool automatic = true);
    void forgetSuccessor();
    Outcome unexpected(const Event& event) const;
    std::string stateName() const;

    VersionHost& host_;
    const Clock& clock_;
    UpgradeJournal& journal_;
    const UpgradeTimeouts timeouts_;
    mutable std::mutex mutex_;
    UpgradePhase phase_ = UpgradePhase::None;
    std::optional<Successor> successor_;
    std::chrono::steady_clock::time_point admitted_at_{};
    std::string last_error_;
};

}  // namespace hotgate::control

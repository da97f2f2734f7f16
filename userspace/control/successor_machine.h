// SuccessorMachine: a new version's side of a hot upgrade, from its Ready on (before that,
// control/handover.h). It starts receiving new connections at Activate, takes charge at
// Committed (or when its predecessor dies before commit), and hands its connections back and
// exits at Stop. Every transition is in dispatch(), one switch over SuccessorEvent. It acts
// only through its ports (upgrade_ports.h): no sockets, no processes. Thread-safe: each call
// holds one lock, under which the ports are called (they must not call back).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "control/messages.h"
#include "control/upgrade_ports.h"

namespace hotgate::control {

enum class SuccessorPhase {
    Ready,        // serving on its own sockets; new connections still go to the predecessor
    Active,       // cut over: new connections come here; the predecessor is standby
    InCharge,     // committed, or the predecessor died first: this is the running version
    HandingBack,  // rolled back: hands its connections to the predecessor, drains and exits
};
std::string_view successorPhaseName(SuccessorPhase phase);

enum class SuccessorEvent {
    Activate,         // the predecessor cut over
    Committed,        // the predecessor committed and drains
    Stop,             // the predecessor rolled back
    PredecessorLost,  // the predecessor's link closed: it exited
};
std::string_view successorEventName(SuccessorEvent event);

class SuccessorMachine {
public:
    struct Predecessor {
        int pid = 0;
        std::string version;
    };
    struct Snapshot {
        SuccessorPhase phase = SuccessorPhase::Ready;
        Predecessor predecessor;
        bool committed = false;
        bool predecessor_gone = false;
        // After commit: when the predecessor closes whatever it still has open.
        std::optional<std::chrono::steady_clock::time_point> predecessor_drain_deadline;
    };

    // `predecessor` is the link this version got its Handover on and sent Ready over.
    SuccessorMachine(VersionHost& host, const Clock& clock, std::shared_ptr<PeerChannel> predecessor,
                     Predecessor who);
    SuccessorMachine(const SuccessorMachine&) = delete;
    SuccessorMachine& operator=(const SuccessorMachine&) = delete;

    // What the predecessor's link delivered (Ready, Failed and Heartbeat never come this way).
    void onMessage(const PeerMessage& message);
    void onPredecessorLost();

    Snapshot snapshot() const;

private:
    struct Event {
        SuccessorEvent kind;
        std::optional<Committed> committed{};
        std::optional<Stop> stop{};
    };

    // The transition table: under mutex_.
    void dispatch(const Event& event);
    // -> InCharge: this version serves alone and answers the control socket.
    void takeCharge(const std::string& why);

    VersionHost& host_;
    const Clock& clock_;
    const std::shared_ptr<PeerChannel> predecessor_link_;
    mutable std::mutex mutex_;
    Snapshot state_;
};

}  // namespace hotgate::control

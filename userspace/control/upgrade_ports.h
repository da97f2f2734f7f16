// The ports through which the upgrade state machines (upgrade_machine.h, successor_machine.h)
// see time, talk to the other version and change this version's traffic. The controller plugs
// in the real ones (the steady clock, PeerLink, GatewayHost); unit tests plug in fakes, so the
// machines run without sockets or processes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/version_state.h"
#include "control/messages.h"

namespace hotgate::control {

class Clock {
public:
    virtual ~Clock() = default;
    virtual std::chrono::steady_clock::time_point now() const = 0;
};

class SteadyClock final : public Clock {
public:
    std::chrono::steady_clock::time_point now() const override { return std::chrono::steady_clock::now(); }
};

// This version's end of the link to the other version (its successor, or its predecessor).
class PeerChannel {
public:
    virtual ~PeerChannel() = default;
    // Sends one message; fails when the peer is gone. Safe from any thread.
    virtual Result<void> send(const PeerMessage& message) = 0;
    // Sends a keep-alive client connection at a request boundary (AdoptConnection + the fd),
    // with the bytes already read from it. Returns false when it could not be sent.
    virtual bool sendConnection(int fd, const std::string& listener, const std::string& buffered) = 0;
};

// What the machines change in this version: steering, accepting, its phase, its end.
class VersionHost {
public:
    virtual ~VersionHost() = default;
    virtual DataplaneMode mode() const = 0;
    virtual std::string version() const = 0;
    // Draining for SIGTERM or after handing over: such a version hands over nothing more.
    virtual bool draining() const = 0;
    // How long a committed version drains at most (the config's timeouts.drain).
    virtual std::chrono::milliseconds drainTimeout() const = 0;
    // BPF mode: points every listener's control entry at `slot` (cutover), or at this version's own slot.
    virtual Result<void> steerTo(std::uint32_t slot) = 0;
    virtual Result<void> steerToOwnSlot() = 0;
    // Takeover mode: stop or start accepting on the shared listening sockets.
    virtual void pauseAccepting() = 0;
    virtual void resumeAccepting() = 0;
    virtual void setPhase(VersionPhase phase) = 0;
    // Hands this version's keep-alive connections to `peer` at their request boundaries, lets
    // the rest finish (at most the drain timeout), then ends the process. Returns at once; a
    // second call while the first runs does nothing.
    virtual void handOffDrainAndExit(std::shared_ptr<PeerChannel> peer) = 0;
    // At commit, before handOffDrainAndExit: the successor (`pid`) is the service's main process
    // from now on, so a service manager follows it instead of taking this process's exit for the
    // service's end (control/service_manager.h).
    virtual void handServiceTo(int pid) = 0;
    // A successor in charge: serves the control socket, replacing its predecessor's.
    virtual Result<void> takeOverControlSocket() = 0;
};

// What the running version's machine reports of each upgrade, for its trace
// (control/upgrade_trace.h). Called under the machine's lock: must not call back into it. The
// defaults record nothing.
class UpgradeJournal {
public:
    virtual ~UpgradeJournal() = default;
    virtual void admitted(int /*pid*/, const std::string& /*version*/) {}
    virtual void ready(std::uint32_t /*slot*/) {}
    // New connections go to the successor: `write` is the control entry write (BPF mode).
    virtual void cutOver(std::chrono::microseconds /*write*/, bool /*bpf*/) {}
    virtual void committed() {}
    virtual void rolledBack(const std::string& /*why*/, bool /*automatic*/) {}
    // The successor failed, timed out or went away before cutover: nothing changed for traffic.
    virtual void gaveUp(const std::string& /*why*/) {}
};

}  // namespace hotgate::control

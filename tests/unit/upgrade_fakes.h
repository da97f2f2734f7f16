// Fakes for the upgrade state machines' ports (control/upgrade_ports.h): a clock the test
// moves, a link that records what it was given and fails on demand, and a host that records
// every effect in order. No sockets, no processes.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/upgrade_ports.h"

namespace hotgate::control::test {

class FakeClock final : public Clock {
public:
    std::chrono::steady_clock::time_point now() const override { return now_; }
    void advance(std::chrono::milliseconds by) { now_ += by; }

private:
    std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
};

class FakeLink final : public PeerChannel {
public:
    Result<void> send(const PeerMessage& message) override {
        if (broken) return fail("control: send: Broken pipe");
        sent.push_back(message);
        return {};
    }
    bool sendConnection(int, const std::string&, const std::string&) override { return !broken; }

    template <typename T>
    std::vector<T> sentOf() const {
        std::vector<T> out;
        for (const auto& message : sent)
            if (const auto* typed = std::get_if<T>(&message)) out.push_back(*typed);
        return out;
    }

    bool broken = false;
    std::vector<PeerMessage> sent;
};

class FakeHost final : public VersionHost {
public:
    explicit FakeHost(DataplaneMode mode, std::uint32_t own_slot = 0) : mode_(mode), own_slot_(own_slot) {}

    DataplaneMode mode() const override { return mode_; }
    std::string version() const override { return "v1/old"; }
    bool draining() const override { return draining_now; }
    std::chrono::milliseconds drainTimeout() const override { return std::chrono::milliseconds(5000); }
    Result<void> steerTo(std::uint32_t slot) override {
        if (steer_fails) return fail("bpf_map_update_elem control map: Operation not permitted");
        effects.push_back("steer " + std::to_string(slot));
        active_slot = slot;
        return {};
    }
    Result<void> steerToOwnSlot() override { return steerTo(own_slot_); }
    void pauseAccepting() override { effects.push_back("pause"); }
    void resumeAccepting() override { effects.push_back("resume"); }
    void setPhase(VersionPhase value) override {
        effects.push_back("phase " + std::string(versionPhaseName(value)));
        phase = value;
    }
    void handOffDrainAndExit(std::shared_ptr<PeerChannel> peer) override {
        effects.push_back("hand off");
        handed_to = std::move(peer);
    }
    void handServiceTo(int pid) override { effects.push_back("service to " + std::to_string(pid)); }
    Result<void> takeOverControlSocket() override {
        effects.push_back("control socket");
        if (control_socket_fails) return fail("control: bind /run/x.sock: Address in use");
        return {};
    }

    bool draining_now = false;
    bool steer_fails = false;
    bool control_socket_fails = false;
    std::optional<std::uint32_t> active_slot;
    std::optional<VersionPhase> phase;
    std::shared_ptr<PeerChannel> handed_to;
    std::vector<std::string> effects;

private:
    DataplaneMode mode_;
    std::uint32_t own_slot_;
};

}  // namespace hotgate::control::test

#include "control/successor_machine.h"

#include "observability/logging.h"

namespace hotgate::control {

std::string_view successorPhaseName(SuccessorPhase phase) {
    switch (phase) {
        case SuccessorPhase::Ready: return "ready";
        case SuccessorPhase::Active: return "active";
        case SuccessorPhase::InCharge: return "in charge";
        case SuccessorPhase::HandingBack: return "handing back";
    }
    return "?";
}

std::string_view successorEventName(SuccessorEvent event) {
    switch (event) {
        case SuccessorEvent::Activate: return "Activate";
        case SuccessorEvent::Committed: return "Committed";
        case SuccessorEvent::Stop: return "Stop";
        case SuccessorEvent::PredecessorLost: return "predecessor lost";
    }
    return "?";
}

SuccessorMachine::SuccessorMachine(VersionHost& host, const Clock& clock, std::shared_ptr<PeerChannel> predecessor,
                                   Predecessor who)
    : host_(host), clock_(clock), predecessor_link_(std::move(predecessor)) {
    state_.predecessor = std::move(who);
    host_.setPhase(VersionPhase::Ready);
}

void SuccessorMachine::onMessage(const PeerMessage& message) {
    std::lock_guard lock(mutex_);
    if (std::holds_alternative<Activate>(message)) return dispatch({SuccessorEvent::Activate});
    if (const auto* committed = std::get_if<Committed>(&message))
        return dispatch({SuccessorEvent::Committed, *committed});
    if (const auto* stop = std::get_if<Stop>(&message)) return dispatch({SuccessorEvent::Stop, std::nullopt, *stop});
    log::warn("upgrade: unexpected ", messageTypeName(static_cast<std::uint16_t>(messageType(message))),
              " from the previous version");
}

void SuccessorMachine::onPredecessorLost() {
    std::lock_guard lock(mutex_);
    dispatch({SuccessorEvent::PredecessorLost});
}

SuccessorMachine::Snapshot SuccessorMachine::snapshot() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void SuccessorMachine::dispatch(const Event& event) {
    using P = SuccessorPhase;
    auto& phase = state_.phase;
    auto ignored = [&] {
        log::warn("upgrade: ignored ", successorEventName(event.kind), " from the previous version in phase ",
                  successorPhaseName(phase));
    };
    switch (event.kind) {
        case SuccessorEvent::Activate:
            if (phase != P::Ready) return ignored();
            if (host_.mode() != DataplaneMode::Bpf) host_.resumeAccepting();
            host_.setPhase(VersionPhase::Active);
            phase = P::Active;
            log::info("upgrade: cut over: this version now receives new connections");
            return;
        case SuccessorEvent::Committed:
            if (phase != P::Active) return ignored();
            state_.predecessor_drain_deadline = clock_.now() + std::chrono::milliseconds(event.committed->drain_ms);
            state_.committed = true;
            return takeCharge("committed");
        case SuccessorEvent::Stop:
            if (phase == P::HandingBack) return;  // already on its way out
            if (phase != P::Ready && phase != P::Active) return ignored();
            log::warn("upgrade: rolled back by the previous version (", event.stop->reason, "); draining");
            phase = P::HandingBack;
            host_.handOffDrainAndExit(predecessor_link_);
            return;
        case SuccessorEvent::PredecessorLost:
            state_.predecessor_gone = true;
            // After commit it drained and exited, as it should; while handing back or draining
            // for SIGTERM this version is on its way out too.
            if ((phase == P::Ready || phase == P::Active) && !host_.draining())
                takeCharge("the previous version exited before commit");
            return;
    }
}

void SuccessorMachine::takeCharge(const std::string& why) {
    if (!state_.committed) {
        // The predecessor died before commit: this version is all that is left.
        if (host_.mode() == DataplaneMode::Bpf) {
            if (auto written = host_.steerToOwnSlot(); !written)
                log::error("upgrade: could not steer to this version's slot: ", written.error().message);
        } else {
            host_.resumeAccepting();
        }
    }
    host_.setPhase(VersionPhase::Active);
    state_.phase = SuccessorPhase::InCharge;
    if (auto served = host_.takeOverControlSocket(); !served)
        log::error("upgrade: cannot take over the control socket: ", served.error().message);
    log::info("upgrade: this version is now the running one (", why, ")");
}

}  // namespace hotgate::control

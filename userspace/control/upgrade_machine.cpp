#include "control/upgrade_machine.h"

#include "observability/logging.h"

namespace hotgate::control {
namespace {

std::string durationText(std::chrono::milliseconds duration) {
    const auto ms = duration.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

}  // namespace

std::string_view upgradePhaseName(UpgradePhase phase) {
    switch (phase) {
        case UpgradePhase::None: return "none";
        case UpgradePhase::Starting: return "starting";
        case UpgradePhase::Ready: return "ready";
        case UpgradePhase::CutOver: return "cut over";
        case UpgradePhase::Committing: return "committing";
        case UpgradePhase::RolledBack: return "rolled back";
    }
    return "?";
}

UpgradeState wireState(UpgradePhase phase) {
    switch (phase) {
        case UpgradePhase::Starting: return UpgradeState::Starting;
        case UpgradePhase::Ready: return UpgradeState::Ready;
        case UpgradePhase::CutOver: return UpgradeState::CutOver;
        case UpgradePhase::Committing: return UpgradeState::Committing;
        case UpgradePhase::None:
        case UpgradePhase::RolledBack: return UpgradeState::None;
    }
    return UpgradeState::None;
}

std::string_view upgradeEventName(UpgradeEvent event) {
    switch (event) {
        case UpgradeEvent::Hello: return "Hello";
        case UpgradeEvent::Ready: return "Ready";
        case UpgradeEvent::Failed: return "Failed";
        case UpgradeEvent::Heartbeat: return "Heartbeat";
        case UpgradeEvent::LinkLost: return "link lost";
        case UpgradeEvent::ReadyTimedOut: return "ready timeout";
        case UpgradeEvent::HeartbeatSilent: return "heartbeat silence";
        case UpgradeEvent::Cutover: return "cutover";
        case UpgradeEvent::Commit: return "commit";
        case UpgradeEvent::Rollback: return "rollback";
    }
    return "?";
}

namespace {
UpgradeJournal& silentJournal() {
    static UpgradeJournal silent;
    return silent;
}
}  // namespace

UpgradeMachine::UpgradeMachine(VersionHost& host, const Clock& clock, UpgradeTimeouts timeouts,
                               UpgradeJournal* journal)
    : host_(host), clock_(clock), journal_(journal ? *journal : silentJournal()), timeouts_(timeouts) {}

std::optional<std::string> UpgradeMachine::admit(const Hello& hello, std::shared_ptr<PeerChannel> link) {
    std::lock_guard lock(mutex_);
    auto outcome = dispatch({UpgradeEvent::Hello, hello, std::move(link)});
    if (outcome.reply.ok) return std::nullopt;
    return outcome.reply.message;
}

LinkFate UpgradeMachine::onMessage(const PeerMessage& message) {
    std::lock_guard lock(mutex_);
    Event event{UpgradeEvent::Ready};
    if (const auto* ready = std::get_if<Ready>(&message)) event = {UpgradeEvent::Ready, *ready};
    else if (const auto* failed = std::get_if<Failed>(&message)) event = {UpgradeEvent::Failed, *failed};
    else if (const auto* beat = std::get_if<Heartbeat>(&message)) event = {UpgradeEvent::Heartbeat, *beat};
    else {
        // Activate, Committed, Stop go from this version to the successor, never back.
        log::warn("upgrade: unexpected ", messageTypeName(static_cast<std::uint16_t>(messageType(message))),
                  " from successor");
        return LinkFate::Follow;
    }
    return dispatch(event).fate;
}

LinkFate UpgradeMachine::onLinkLost() {
    std::lock_guard lock(mutex_);
    return dispatch({UpgradeEvent::LinkLost}).fate;
}

LinkFate UpgradeMachine::tick() {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    if (phase_ == UpgradePhase::Starting && now - admitted_at_ > timeouts_.ready)
        return dispatch({UpgradeEvent::ReadyTimedOut}).fate;
    if (phase_ == UpgradePhase::CutOver && successor_ && now - successor_->last_beat > timeouts_.heartbeat_silence)
        return dispatch({UpgradeEvent::HeartbeatSilent}).fate;
    return LinkFate::Follow;
}

Reply UpgradeMachine::cutover() {
    std::lock_guard lock(mutex_);
    return dispatch({UpgradeEvent::Cutover}).reply;
}

Reply UpgradeMachine::commit() {
    std::lock_guard lock(mutex_);
    return dispatch({UpgradeEvent::Commit}).reply;
}

Reply UpgradeMachine::rollback(const std::string& why) {
    std::lock_guard lock(mutex_);
    return dispatch({UpgradeEvent::Rollback, why}).reply;
}

UpgradeMachine::Snapshot UpgradeMachine::snapshot() const {
    std::lock_guard lock(mutex_);
    Snapshot snapshot{phase_, std::nullopt, last_error_};
    if (successor_) snapshot.successor = successor_->view;
    return snapshot;
}

std::string UpgradeMachine::stateName() const { return std::string(upgradeStateName(wireState(phase_))); }

UpgradeMachine::Outcome UpgradeMachine::unexpected(const Event& event) const {
    log::warn("upgrade: ignored ", upgradeEventName(event.kind), " in phase ", upgradePhaseName(phase_));
    return {};
}

void UpgradeMachine::forgetSuccessor() {
    successor_.reset();
    phase_ = UpgradePhase::None;
}

UpgradeMachine::Outcome UpgradeMachine::dispatch(const Event& event) {
    using P = UpgradePhase;
    const std::string pid = successor_ ? std::to_string(successor_->view.pid) : "?";
    switch (event.kind) {
        case UpgradeEvent::Hello: {
            const auto& hello = std::get<Hello>(event.payload);
            if (successor_)
                return {Reply::failure("an upgrade is already in progress: successor pid " + pid + " is " + stateName())};
            if (host_.draining()) return {Reply::failure("this version is draining; it hands over nothing")};
            successor_ = Successor{{hello.pid, hello.version, 0, {}, {}}, event.link, {}};
            admitted_at_ = clock_.now();
            phase_ = P::Starting;
            log::info("upgrade: successor ", hello.version, " (pid ", hello.pid, ") connected");
            journal_.admitted(hello.pid, hello.version);
            return {};
        }
        case UpgradeEvent::Ready: {
            // A rolled-back successor may still report ready: it is recorded, nothing more.
            if (!successor_ || (phase_ != P::Starting && phase_ != P::RolledBack)) return unexpected(event);
            const auto& ready = std::get<Ready>(event.payload);
            successor_->view.slot = ready.slot;
            successor_->view.shadow_paths = ready.shadow_paths;
            successor_->view.admin = ready.admin;
            successor_->last_beat = clock_.now();
            if (phase_ == P::Starting) {
                phase_ = P::Ready;
                journal_.ready(ready.slot);
            }
            log::info("upgrade: successor pid ", pid, " is ready (slot ", ready.slot, ")");
            return {};
        }
        case UpgradeEvent::Failed:
            if (!successor_) return unexpected(event);
            last_error_ = std::get<Failed>(event.payload).reason;
            log::warn("upgrade: successor pid ", pid, " failed to start: ", last_error_);
            if (phase_ == P::Starting || phase_ == P::Ready) journal_.gaveUp(last_error_);
            return {};  // its link closes next
        case UpgradeEvent::Heartbeat: {
            if (!successor_) return unexpected(event);
            const auto& beat = std::get<Heartbeat>(event.payload);
            successor_->view.last_heartbeat = beat;
            successor_->last_beat = clock_.now();
            if (phase_ == P::CutOver && !beat.healthy)
                rollBack("auto-rollback: successor pid " + pid + " reports unhealthy", true);
            return {};
        }
        case UpgradeEvent::LinkLost:
            switch (phase_) {
                case P::CutOver:
                    rollBack("auto-rollback: successor pid " + pid +
                                 " exited or closed its control connection after cutover",
                             false);
                    forgetSuccessor();
                    break;
                case P::Starting:
                case P::Ready:
                    log::warn("upgrade: successor pid ", pid, " went away before cutover; nothing changed for traffic");
                    journal_.gaveUp("successor pid " + pid + " went away before cutover");
                    forgetSuccessor();
                    break;
                case P::RolledBack:
                    forgetSuccessor();
                    break;
                case P::Committing:  // it serves on; this version hands over what it still can and exits
                case P::None:
                    break;
            }
            return {Reply::success(""), LinkFate::Forget};
        case UpgradeEvent::ReadyTimedOut:
            if (phase_ != P::Starting) return unexpected(event);
            last_error_ = "successor pid " + pid + " did not become ready in " + durationText(timeouts_.ready);
            log::warn("upgrade: ", last_error_);
            log::warn("upgrade: successor pid ", pid, " went away before cutover; nothing changed for traffic");
            journal_.gaveUp(last_error_);
            forgetSuccessor();
            return {Reply::failure(last_error_), LinkFate::Forget};
        case UpgradeEvent::HeartbeatSilent:
            if (phase_ != P::CutOver) return unexpected(event);
            rollBack("auto-rollback: successor pid " + pid + " sent no heartbeat for " +
                         durationText(timeouts_.heartbeat_silence),
                     true);
            return {};
        case UpgradeEvent::Cutover: {
            if (phase_ != P::Ready || !successor_)
                return {Reply::failure("no successor is ready to cut over to (upgrade state: " + stateName() + ")")};
            const auto started = clock_.now();
            const bool bpf = host_.mode() == DataplaneMode::Bpf;
            if (bpf) {
                if (auto written = host_.steerTo(successor_->view.slot); !written)
                    return {Reply::failure("cutover failed, nothing changed: " + written.error().message)};
            }
            const auto write_us =
                std::chrono::duration_cast<std::chrono::microseconds>(clock_.now() - started).count();
            if (auto sent = successor_->link->send(Activate{}); !sent) {
                if (bpf) (void)host_.steerToOwnSlot();
                return {Reply::failure("cutover failed, reverted: successor unreachable: " + sent.error().message)};
            }
            if (!bpf) host_.pauseAccepting();
            phase_ = P::CutOver;
            successor_->last_beat = clock_.now();
            host_.setPhase(VersionPhase::Standby);
            const auto& view = successor_->view;
            const std::string message = "cut over to " + view.version + " (pid " + pid +
                                        (bpf ? ", slot " + std::to_string(view.slot) : std::string()) + ")";
            log::info("upgrade: ", message, bpf ? " in " + std::to_string(write_us) + " us" : std::string());
            journal_.cutOver(std::chrono::microseconds(write_us), bpf);
            return {Reply::success(message, {{"write_us", write_us}})};
        }
        case UpgradeEvent::Commit: {
            if (phase_ != P::CutOver || !successor_)
                return {Reply::failure("nothing to commit: cut over first (upgrade state: " + stateName() + ")" +
                                       (last_error_.empty() ? "" : "; last problem: " + last_error_))};
            const auto drain_ms = std::chrono::duration_cast<std::chrono::milliseconds>(host_.drainTimeout()).count();
            if (auto sent = successor_->link->send(Committed{drain_ms}); !sent)
                return {Reply::failure("commit failed, nothing changed: successor unreachable: " + sent.error().message)};
            phase_ = P::Committing;
            log::info("upgrade: committed to ", successor_->view.version, "; handing connections over and draining");
            journal_.committed();
            host_.handServiceTo(successor_->view.pid);
            host_.handOffDrainAndExit(successor_->link);
            return {Reply::success("committed: " + host_.version() + " hands its connections to " +
                                   successor_->view.version + " and exits when drained")};
        }
        case UpgradeEvent::Rollback:
            if (!successor_ || (phase_ != P::Starting && phase_ != P::Ready && phase_ != P::CutOver))
                return {Reply::failure("no upgrade to roll back (upgrade state: " + stateName() + ")")};
            return {rollBack(std::get<std::string>(event.payload), true, /*automatic=*/false)};
    }
    return unexpected(event);
}

// Starting, Ready or CutOver -> RolledBack. The successor stays known until its link closes:
// it hands its connections back meanwhile.
Reply UpgradeMachine::rollBack(const std::string& why, bool tell_successor, bool automatic) {
    if (phase_ == UpgradePhase::CutOver) {
        if (host_.mode() == DataplaneMode::Bpf) {
            if (auto written = host_.steerToOwnSlot(); !written)
                log::error("rollback: writing the control entry back failed: ", written.error().message);
        } else {
            host_.resumeAccepting();
        }
    }
    host_.setPhase(VersionPhase::Active);
    if (tell_successor) (void)successor_->link->send(Stop{why});
    log::warn("upgrade: rolled back from ", successor_->view.version, " (pid ", successor_->view.pid, "): ", why);
    phase_ = UpgradePhase::RolledBack;
    last_error_ = why;
    journal_.rolledBack(why, automatic);
    return Reply::success("rolled back: new connections go to " + host_.version() + " again; pid " +
                          std::to_string(successor_->view.pid) + " drains and exits");
}

}  // namespace hotgate::control

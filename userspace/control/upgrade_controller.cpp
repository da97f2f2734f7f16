#include "control/upgrade_controller.h"

#include <unistd.h>

#include "control/journal_stream.h"
#include "control/successor_launcher.h"
#include "observability/logging.h"
#include "proxy/gateway.h"

namespace hotgate::control {
namespace {

using namespace std::chrono_literals;

// How long a quiet successor link is read before the machine's clock is consulted.
constexpr auto kPollInterval = 250ms;
constexpr auto kHeartbeatInterval = 200ms;
constexpr auto kLaunchPollInterval = 20ms;

std::int64_t millisUntil(std::chrono::steady_clock::time_point deadline) {
    return std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
}

// Logs and adopts a connection the other version handed over.
void adoptFromPeer(Gateway& gateway, Message& message) {
    auto adopt = AdoptConnection::fromJson(message.payload);
    if (message.fds.size() != 1 || !adopt) {
        log::warn("upgrade: malformed AdoptConnection (", message.fds.size(), " fds)");
        return;
    }
    if (auto adopted = gateway.adopt(adopt->listener, std::move(message.fds[0]), std::move(adopt->buffered));
        !adopted)
        log::warn("upgrade: ", adopted.error().message);
}

}  // namespace

UpgradeController::UpgradeController(Gateway& gateway, std::string control_path, std::function<void()> request_exit,
                                     telemetry::SpanSink* spans)
    : gateway_(gateway),
      control_path_(std::move(control_path)),
      host_(gateway, std::move(request_exit)),
      trace_(spans, [&gateway] { return gateway.context().connections_handed_off.load(); }),
      machine_(host_, clock_, {}, &trace_),
      verifier_(gateway.context().shadow_tap) {}

UpgradeController::~UpgradeController() { stop(); }

Reply UpgradeController::recordGwctlStages(const UpgradeStagesReport& report) {
    trace_.gwctlStages(report);
    return Reply::success("recorded " + std::to_string(report.stages.size()) + " stage(s) of gwctl upgrade");
}

void UpgradeController::stop() {
    if (stopping_.exchange(true)) return;
    if (predecessor_) predecessor_->shutdown();
    if (follow_thread_.joinable()) follow_thread_.join();
    if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
    host_.join();
    trace_.finish();
}

void UpgradeController::serveSuccessor(int fd, const Message& hello_message) {
    UniqueFd own(::dup(fd));
    if (!own) return;
    auto link = std::make_shared<PeerLink>(std::move(own));
    auto hello = Hello::fromJson(hello_message.payload);
    if (!hello) {
        (void)link->send(MessageType::Error, Reply::failure("malformed Hello: " + hello.error().message).toJson());
        return;
    }
    if (auto refused = machine_.admit(*hello, link)) {
        (void)link->send(MessageType::Error, Reply::failure(*refused).toJson());
        return;
    }
    {
        std::lock_guard lock(successor_link_mutex_);
        successor_link_ = link;
        successor_link_pid_ = hello->pid;
    }
    if (auto sent = sendHandover(*link, gateway_); !sent) {
        log::warn("upgrade: handover to pid ", hello->pid, " failed: ", sent.error().message);
        machine_.onLinkLost();
        return;
    }
    for (;;) {
        auto message = link->receive(kPollInterval);
        if (!message) {
            const bool lost = message.error().errnum != ETIMEDOUT;
            if ((lost ? machine_.onLinkLost() : machine_.tick()) == LinkFate::Forget) return;
            continue;
        }
        if (message->type == MessageType::AdoptConnection) {
            adoptFromPeer(gateway_, *message);
            continue;
        }
        auto decoded = decodePeerMessage(*message);
        if (!decoded) {
            log::warn("upgrade: ", decoded.error().message, " from successor");
            continue;
        }
        if (machine_.onMessage(*decoded) == LinkFate::Forget) return;
    }
}

Result<void> UpgradeController::followPredecessor(std::shared_ptr<PeerLink> link, const std::string& admin_address,
                                                  const Handover& from,
                                                  std::function<Result<void>()> take_over_control_socket) {
    predecessor_ = std::move(link);
    host_.setControlSocketTakeOver(std::move(take_over_control_socket));
    const Ready ready{gateway_.dataplane().slot.value_or(0), admin_address, ::getpid(), /*shadow_paths=*/true};
    if (auto sent = predecessor_->send(ready); !sent) return tl::unexpected(sent.error());
    as_successor_ = std::make_unique<SuccessorMachine>(host_, clock_, predecessor_,
                                                       SuccessorMachine::Predecessor{from.pid, from.version});
    follow_thread_ = std::thread([this] { followLoop(); });
    heartbeat_thread_ = std::thread([this] { heartbeatLoop(); });
    return {};
}

void UpgradeController::followLoop() {
    while (!stopping_) {
        auto message = predecessor_->receive(1s);
        if (!message) {
            if (message.error().errnum == ETIMEDOUT) continue;
            if (!stopping_) as_successor_->onPredecessorLost();
            return;
        }
        if (message->type == MessageType::AdoptConnection) {
            adoptFromPeer(gateway_, *message);
            continue;
        }
        if (message->type == MessageType::ShadowConnection) {
            if (message->fds.size() == 1)
                gateway_.serveShadow(std::move(message->fds[0]));
            else
                log::warn("upgrade: malformed ShadowConnection (", message->fds.size(), " fds)");
            continue;
        }
        auto decoded = decodePeerMessage(*message);
        if (!decoded) {
            log::warn("upgrade: ", decoded.error().message, " from the previous version");
            continue;
        }
        as_successor_->onMessage(*decoded);
    }
}

void UpgradeController::heartbeatLoop() {
    while (!stopping_ && !gateway_.draining()) {
        const auto& context = gateway_.context();
        const Heartbeat beat{context.open_connections.load(), context.in_flight_requests.load(), true};
        if (!predecessor_->send(beat)) return;
        std::this_thread::sleep_for(kHeartbeatInterval);
    }
}

Result<std::string> UpgradeController::upgradeToConfig(const std::string& config_path,
                                                       std::chrono::milliseconds ready_timeout) {
    auto self = currentExecutable();
    if (!self) return tl::unexpected(self.error());
    return upgradeTo(*self, config_path, ready_timeout);
}

Result<std::string> UpgradeController::upgradeTo(const std::string& binary, const std::string& config_path,
                                                 std::chrono::milliseconds ready_timeout) {
    if (const auto now = machine_.snapshot(); now.successor || now.phase != UpgradePhase::None)
        return fail("an upgrade is already in progress (", upgradeStateName(wireState(now.phase)), ")");
    // It shares this process's output, and under hotgate.service opens its own journal stream.
    SuccessorLaunch launch{binary, config_path, control_path_};
    launch.log_to_journal = journal::isJournalStream(STDERR_FILENO);
    auto child = SuccessorProcess::launch(launch);
    if (!child) return tl::unexpected(child.error());
    const pid_t pid = child->pid();
    log::info("upgrade: started ", binary, " (pid ", pid, ") with ", config_path, " as the new version");
    const auto waited = child->waitUntilReady(
        [&] {
            const auto now = machine_.snapshot();
            return now.successor && now.successor->pid == pid && now.phase == UpgradePhase::Ready;
        },
        ready_timeout, kLaunchPollInterval);
    switch (waited.outcome) {
        case SuccessorProcess::Outcome::Exited: {
            std::this_thread::sleep_for(100ms);  // its Failed message (the reason) may still be on the way
            const auto last_error = machine_.snapshot().last_error;
            return fail("the new version (pid ", pid, ") exited before it was ready",
                        last_error.empty() ? std::string() : ": " + last_error);
        }
        case SuccessorProcess::Outcome::TimedOut:
            child->terminate();
            return fail("the new version (pid ", pid, ") was not ready within ", ready_timeout.count(), "ms; stopped it");
        case SuccessorProcess::Outcome::Ready:
            break;
    }
    const auto cut = machine_.cutover();
    if (!cut.ok) {
        child->terminate();
        return fail(cut.message);
    }
    const auto committed = machine_.commit();
    if (!committed.ok) return fail(committed.message);
    return "pid " + std::to_string(pid) + " (" + binary + ") serves; " + cut.message +
           ", and this version hands its connections over and exits";
}

VersionInfo UpgradeController::selfInfo() const {
    const auto& context = gateway_.context();
    VersionInfo info;
    info.version = context.version();
    info.pid = ::getpid();
    info.phase = gateway_.phase();
    info.mode = gateway_.dataplane().mode;
    info.config_path = context.config()->source_path;
    info.connections = context.open_connections.load();
    info.in_flight = context.in_flight_requests.load();
    info.connections_handed_off = context.connections_handed_off.load();
    info.connections_adopted = context.connections_adopted.load();
    info.slot = gateway_.dataplane().slot;
    if (auto deadline = gateway_.drainDeadline()) info.drain_deadline_ms = millisUntil(*deadline);
    return info;
}

StatusReply UpgradeController::status() const {
    StatusReply reply;
    reply.versions.push_back(selfInfo());
    // After commit the previous version drains on until its link closes: it still runs.
    if (as_successor_) {
        const auto followed = as_successor_->snapshot();
        if (followed.committed && !followed.predecessor_gone && followed.predecessor.pid > 0) {
            VersionInfo info;
            info.version = followed.predecessor.version;
            info.pid = followed.predecessor.pid;
            info.phase = VersionPhase::Draining;
            if (followed.predecessor_drain_deadline)
                info.drain_deadline_ms = millisUntil(*followed.predecessor_drain_deadline);
            reply.versions.push_back(info);  // after this version, which stays first
        }
    }
    const auto upgrade = machine_.snapshot();
    if (upgrade.successor) {
        const auto& successor = *upgrade.successor;
        VersionInfo info;
        info.version = successor.version;
        info.pid = successor.pid;
        switch (upgrade.phase) {
            case UpgradePhase::Starting: info.phase = VersionPhase::Starting; break;
            case UpgradePhase::Ready: info.phase = VersionPhase::Ready; break;
            case UpgradePhase::CutOver:
            case UpgradePhase::Committing: info.phase = VersionPhase::Active; break;
            case UpgradePhase::None:
            case UpgradePhase::RolledBack: info.phase = VersionPhase::Draining; break;
        }
        if (upgrade.phase != UpgradePhase::Starting && gateway_.dataplane().mode == DataplaneMode::Bpf)
            info.slot = successor.slot;
        info.connections = successor.last_heartbeat.connections;
        info.in_flight = successor.last_heartbeat.in_flight;
        reply.versions.push_back(info);
    }
    reply.mode = gateway_.dataplane().mode;
    reply.upgrade_state = wireState(upgrade.phase);
    reply.mode_reason = gateway_.dataplane().reason;
    reply.last_upgrade_error = upgrade.last_error;
    // This version's own listeners and pin root: gwctl's steering commands default to them.
    for (const auto& l : gateway_.listeners()) reply.listeners.push_back({l.name, l.address, l.sockets});
    reply.bpffs_root = gateway_.context().config()->dataplane.bpffs_root;
    reply.require_signature = gateway_.context().config()->upgrade.require_signature;
    return reply;
}

}  // namespace hotgate::control

#include "control/upgrade_controller.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "control/config_engine.h"
#include "observability/logging.h"
#include "proxy/gateway.h"

namespace hotgate::control {
namespace {

using namespace std::chrono_literals;

// A successor that sent nothing for this long after cutover is taken for dead (a dead one is
// seen at once, by its link closing; this catches a hung one). Not shorter: on a loaded
// 2-core machine a healthy process can be descheduled for a good part of a second.
constexpr auto kHeartbeatSilence = 3000ms;
constexpr auto kHeartbeatInterval = 200ms;
constexpr auto kPollInterval = 250ms;

const char* stateName(int state) {
    static const char* kNames[] = {"none", "starting", "ready", "cut over", "committing"};
    return kNames[state];
}

nlohmann::json okReply(const std::string& message) {
    return {{"ok", true}, {"message", message}};
}
nlohmann::json errorReply(const std::string& message) {
    return {{"ok", false}, {"message", message}};
}

}  // namespace

Result<Handover> requestHandover(PeerLink& link, const std::string& version, const std::string& config_hash) {
    if (auto sent =
            link.send(MessageType::Hello, {{"version", version}, {"pid", ::getpid()}, {"config_hash", config_hash}});
        !sent)
        return tl::unexpected(sent.error());
    auto reply = link.receive(10s);
    if (!reply) return fail("no handover from the running version: ", reply.error().message);
    if (reply->type == MessageType::Error)
        return fail("the running version refused the upgrade: ", reply->payload.value("message", std::string("?")));
    if (reply->type != MessageType::Handover)
        return fail("expected Handover from the running version, got ",
                    messageTypeName(static_cast<uint16_t>(reply->type)));
    Handover handover;
    try {
        const auto& p = reply->payload;
        handover.pid = p.value("pid", 0);
        handover.version = p.at("version").get<std::string>();
        handover.config_hash = p.at("config_hash").get<std::string>();
        handover.mode = p.at("mode").get<std::string>();
        handover.active_slot = p.at("active_slot").get<std::uint32_t>();
        handover.ticket_keys = p.value("tls_session_ticket_keys", std::string());
        std::size_t next_fd = 0;
        for (const auto& listener : p.at("listeners")) {
            const auto count = listener.at("fds").get<std::size_t>();
            if (next_fd + count > reply->fds.size()) return fail("Handover announced more fds than it carried");
            std::vector<UniqueFd> fds;
            for (std::size_t i = 0; i < count; ++i) fds.push_back(std::move(reply->fds[next_fd++]));
            handover.listeners.emplace_back(listener.at("name").get<std::string>(), std::move(fds));
        }
    } catch (const nlohmann::json::exception& e) {
        return fail("malformed Handover: ", e.what());
    }
    if (handover.mode != "bpf" && handover.mode != "takeover")
        return fail("Handover has unknown mode '", handover.mode, "'");
    return handover;
}

UpgradeController::UpgradeController(Gateway& gateway, std::string control_path, std::function<void()> request_exit)
    : gateway_(gateway), control_path_(std::move(control_path)), request_exit_(std::move(request_exit)) {}

UpgradeController::~UpgradeController() {
    stop();
}

void UpgradeController::stop() {
    if (stopping_.exchange(true)) return;
    if (server_) server_->stop();
    if (predecessor_) predecessor_->shutdown();
    if (follow_thread_.joinable()) follow_thread_.join();
    if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
    if (drain_thread_.joinable()) drain_thread_.join();
}

Result<void> UpgradeController::serveControlSocket(bool replace_live) {
    auto server = ControlServer::listen(
        control_path_, [this](int fd, const ucred& peer) { serveConnection(fd, peer); }, replace_live);
    if (!server) return tl::unexpected(server.error());
    server_ = std::move(*server);
    log::info("control socket ", control_path_, " ready");
    return {};
}

void UpgradeController::serveConnection(int fd, const ucred& peer) {
    auto message = receiveMessage(fd, 5s);
    if (!message) {
        log::warn("control: refused a message from pid ", peer.pid, ": ", message.error().message);
        if (message.error().errnum != ECONNRESET)
            (void)sendMessage(fd, MessageType::Error, errorReply(message.error().message));
        return;
    }
    nlohmann::json reply;
    switch (message->type) {
        case MessageType::Status:
            (void)sendMessage(fd, MessageType::StatusReply, status());
            return;
        case MessageType::Cutover:
            reply = cutover();
            break;
        case MessageType::Commit:
            reply = commit();
            break;
        case MessageType::Rollback:
            reply = rollback("requested by gwctl rollback", true);
            break;
        case MessageType::ConfigApply:
        case MessageType::ConfigRollback:
        case MessageType::ConfigHistory:
        case MessageType::ConfigDiff:
            reply = configRequest(*message);
            break;
        case MessageType::CertsReload:
            if (auto reloaded = gateway_.reloadCertificates(); !reloaded) {
                log::warn("TLS: certificate reload refused, the current certificates keep serving: ",
                          reloaded.error().message);
                reply = errorReply(reloaded.error().message);
            } else {
                log::info("TLS: certificates reloaded");
                reply = {{"ok", true}, {"message", "certificates reloaded"}, {"tls", gateway_.tlsStatus()}};
            }
            break;
        case MessageType::RotateTicketKey:
            if (auto rotated = gateway_.rotateTicketKey(); !rotated) {
                reply = errorReply(rotated.error().message);
            } else {
                log::info("TLS: session ticket key rotated; keys now ", nlohmann::json(*rotated).dump());
                reply = {{"ok", true}, {"message", "session ticket key rotated"}, {"session_ticket_keys", *rotated}};
            }
            break;
        case MessageType::Hello: {
            UniqueFd own(::dup(fd));
            if (!own) return;
            serveSuccessor(std::make_shared<PeerLink>(std::move(own)), *message);
            return;
        }
        default:
            reply = errorReply(std::string("unexpected ") + messageTypeName(static_cast<uint16_t>(message->type)) +
                               " from a control client");
    }
    (void)sendMessage(fd, reply.value("ok", false) ? MessageType::Ok : MessageType::Error, reply);
}

void UpgradeController::serveSuccessor(std::shared_ptr<PeerLink> link, const Message& hello) {
    Successor successor;
    try {
        successor.version = hello.payload.at("version").get<std::string>();
        successor.pid = hello.payload.at("pid").get<int>();
    } catch (const nlohmann::json::exception& e) {
        (void)link->send(MessageType::Error, errorReply(std::string("malformed Hello: ") + e.what()));
        return;
    }
    successor.link = link;
    {
        std::lock_guard lock(mutex_);
        if (successor_) {
            (void)link->send(MessageType::Error, errorReply("an upgrade is already in progress: successor pid " +
                                                            std::to_string(successor_->pid) + " is " +
                                                            stateName(static_cast<int>(state_))));
            return;
        }
        if (gateway_.draining()) {
            (void)link->send(MessageType::Error, errorReply("this version is draining; it hands over nothing"));
            return;
        }
        successor_ = successor;
        state_ = UpgradeState::Starting;
    }
    log::info("upgrade: successor ", successor.version, " (pid ", successor.pid, ") connected");

    nlohmann::json listeners = nlohmann::json::array();
    std::vector<int> fds;
    for (const auto& [name, listener_fds] : gateway_.handoverFds()) {
        listeners.push_back({{"name", name}, {"fds", listener_fds.size()}});
        fds.insert(fds.end(), listener_fds.begin(), listener_fds.end());
    }
    const auto& dataplane = gateway_.dataplane();
    const auto& context = gateway_.context();
    auto sent = link->send(MessageType::Handover,
                           {{"version", context.version()},
                            {"pid", ::getpid()},
                            {"config_hash", context.config()->hash},
                            {"mode", dataplane.mode},
                            {"active_slot", dataplane.slot.value_or(0)},
                            {"listeners", listeners},
                            {"tls_session_ticket_keys", gateway_.ticketKeysForHandover()}},
                           fds);
    if (!sent) {
        log::warn("upgrade: handover to pid ", successor.pid, " failed: ", sent.error().message);
        std::lock_guard lock(mutex_);
        successor_.reset();
        state_ = UpgradeState::None;
        return;
    }

    const auto started = std::chrono::steady_clock::now();
    for (;;) {
        auto message = link->receive(kPollInterval);
        if (!message) {
            std::unique_lock lock(mutex_);
            bool lost = message.error().errnum != ETIMEDOUT;
            if (!lost && state_ == UpgradeState::CutOver &&
                std::chrono::steady_clock::now() - successor_->last_beat > kHeartbeatSilence) {
                lock.unlock();
                rollback("auto-rollback: successor pid " + std::to_string(successor.pid) + " sent no heartbeat for 3s",
                         true);
                continue;
            }
            if (!lost && state_ == UpgradeState::Starting && std::chrono::steady_clock::now() - started > 60s) {
                last_upgrade_error_ = "successor pid " + std::to_string(successor.pid) + " did not become ready in 60s";
                log::warn("upgrade: ", last_upgrade_error_);
                lost = true;
            }
            if (!lost) continue;
            if (state_ == UpgradeState::CutOver) {
                lock.unlock();
                rollback("auto-rollback: successor pid " + std::to_string(successor.pid) +
                             " exited or closed its control connection after cutover",
                         false);
                lock.lock();
            } else if (state_ == UpgradeState::Starting || state_ == UpgradeState::Ready) {
                log::warn("upgrade: successor pid ", successor.pid,
                          " went away before cutover; nothing changed for traffic");
            }
            if (state_ != UpgradeState::Committing) {
                successor_.reset();
                state_ = UpgradeState::None;
            }
            return;
        }
        switch (message->type) {
            case MessageType::Ready: {
                std::lock_guard lock(mutex_);
                if (!successor_) break;
                successor_->slot = message->payload.value("slot", 0u);
                successor_->admin = message->payload.value("admin", std::string());
                successor_->last_beat = std::chrono::steady_clock::now();
                if (state_ == UpgradeState::Starting) state_ = UpgradeState::Ready;
                log::info("upgrade: successor pid ", successor.pid, " is ready (slot ", successor_->slot, ")");
                break;
            }
            case MessageType::Failed: {
                std::lock_guard lock(mutex_);
                last_upgrade_error_ = message->payload.value("reason", std::string("no reason given"));
                log::warn("upgrade: successor pid ", successor.pid, " failed to start: ", last_upgrade_error_);
                break;  // its link closes next; the loop ends there
            }
            case MessageType::Heartbeat: {
                bool unhealthy = false;
                {
                    std::lock_guard lock(mutex_);
                    if (!successor_) break;
                    successor_->heartbeat = message->payload;
                    successor_->last_beat = std::chrono::steady_clock::now();
                    unhealthy = state_ == UpgradeState::CutOver && !message->payload.value("healthy", true);
                }
                if (unhealthy)
                    rollback("auto-rollback: successor pid " + std::to_string(successor.pid) + " reports unhealthy",
                             true);
                break;
            }
            case MessageType::AdoptConnection:
                adoptFromPeer(*message);
                break;
            default:
                log::warn("upgrade: unexpected ", messageTypeName(static_cast<uint16_t>(message->type)),
                          " from successor");
        }
    }
}

nlohmann::json UpgradeController::configRequest(const Message& message) {
    auto* engine = config_engine_.load();
    if (!engine) return errorReply("this version has no config engine running (it is a successor not yet in charge)");
    const auto& p = message.payload;
    auto requirePath = [&](std::string& path) -> std::optional<nlohmann::json> {
        if (!p.contains("path") || !p["path"].is_string() || p["path"].get<std::string>().empty())
            return errorReply(std::string(messageTypeName(static_cast<uint16_t>(message.type))) +
                              " needs a non-empty string field 'path'");
        path = p["path"].get<std::string>();
        if (path[0] != '/') return errorReply("'path' must be absolute (the server reads it), got '" + path + "'");
        return std::nullopt;
    };
    std::string path;
    switch (message.type) {
        case MessageType::ConfigApply:
            if (auto bad = requirePath(path)) return *bad;
            if (p.contains("wait") && !p["wait"].is_boolean()) return errorReply("'wait' must be true or false");
            return engine->apply(path, "gwctl", p.value("wait", false));
        case MessageType::ConfigDiff:
            if (auto bad = requirePath(path)) return *bad;
            return engine->diffAgainstRunning(path);
        case MessageType::ConfigRollback:
            return engine->rollback("requested by gwctl config rollback");
        default:
            return engine->history();
    }
}

Result<std::string> UpgradeController::upgradeToConfig(const std::string& config_path,
                                                       std::chrono::milliseconds ready_timeout) {
    {
        std::lock_guard lock(mutex_);
        if (successor_ || state_ != UpgradeState::None)
            return fail("an upgrade is already in progress (", stateName(static_cast<int>(state_)), ")");
    }
    char self[4096];
    const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) return sysError(errno, "readlink /proc/self/exe");
    self[length] = '\0';
    const pid_t child = ::fork();
    if (child < 0) return sysError(errno, "fork for the new version");
    if (child == 0) {
        ::setsid();  // not killed by signals aimed at this process group
        // Nothing of ours but stdio may reach the new version: an inherited copy of a client
        // connection would keep it open after we close it. (It gets its sockets by handover.)
        ::close_range(3, ~0U, 0);
        ::execl(self, self, "--config", config_path.c_str(), "--control-socket", control_path_.c_str(),
                "--upgrade-from", control_path_.c_str(), static_cast<char*>(nullptr));
        std::fprintf(stderr, "exec %s: %s\n", self, std::strerror(errno));
        ::_exit(127);
    }
    log::info("config: started ", self, " (pid ", child, ") with ", config_path, " as the new version");
    const auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    for (;;) {
        int status = 0;
        if (::waitpid(child, &status, WNOHANG) == child) {
            std::this_thread::sleep_for(100ms);  // its Failed message (the reason) may still be on the way
            std::lock_guard lock(mutex_);
            return fail("the new version (pid ", child, ") exited before it was ready",
                        last_upgrade_error_.empty() ? std::string() : ": " + last_upgrade_error_);
        }
        {
            std::lock_guard lock(mutex_);
            if (successor_ && successor_->pid == child && state_ == UpgradeState::Ready) break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(child, SIGTERM);
            return fail("the new version (pid ", child, ") was not ready within ", ready_timeout.count(),
                        "ms; stopped it");
        }
        std::this_thread::sleep_for(20ms);
    }
    auto cut = cutover();
    if (!cut.value("ok", false)) {
        ::kill(child, SIGTERM);
        return fail(cut.value("message", std::string("cutover failed")));
    }
    auto committed = commit();
    if (!committed.value("ok", false)) return fail(committed.value("message", std::string("commit failed")));
    return "pid " + std::to_string(child) + " serves the new config; " + cut.value("message", std::string()) +
           ", and this version hands its connections over and exits";
}

nlohmann::json UpgradeController::cutover() {
    std::lock_guard lock(mutex_);
    if (state_ != UpgradeState::Ready || !successor_)
        return errorReply(std::string("no successor is ready to cut over to (upgrade state: ") +
                          stateName(static_cast<int>(state_)) + ")");
    const auto started = std::chrono::steady_clock::now();
    const bool bpf = gateway_.dataplane().mode == "bpf";
    if (bpf) {
        if (auto written = gateway_.steerTo(successor_->slot); !written)
            return errorReply("cutover failed, nothing changed: " + written.error().message);
    }
    const auto write_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
    if (auto sent = successor_->link->send(MessageType::Activate, nlohmann::json::object()); !sent) {
        if (bpf) (void)gateway_.steerTo(*gateway_.dataplane().slot);
        return errorReply("cutover failed, reverted: successor unreachable: " + sent.error().message);
    }
    if (!bpf) gateway_.pauseAccepting();
    state_ = UpgradeState::CutOver;
    successor_->last_beat = std::chrono::steady_clock::now();
    gateway_.setPhase("standby");
    const std::string message = "cut over to " + successor_->version + " (pid " + std::to_string(successor_->pid) +
                                (bpf ? ", slot " + std::to_string(successor_->slot) : std::string()) + ")";
    log::info("upgrade: ", message, bpf ? " in " + std::to_string(write_us) + " us" : std::string());
    auto reply = okReply(message);
    reply["write_us"] = write_us;
    return reply;
}

nlohmann::json UpgradeController::commit() {
    std::shared_ptr<PeerLink> link;
    std::string successor_version;
    {
        std::lock_guard lock(mutex_);
        if (state_ != UpgradeState::CutOver || !successor_)
            return errorReply(std::string("nothing to commit: cut over first (upgrade state: ") +
                              stateName(static_cast<int>(state_)) + ")" +
                              (last_upgrade_error_.empty() ? "" : "; last problem: " + last_upgrade_error_));
        if (auto sent = successor_->link->send(MessageType::Committed,
                                               {{"drain_ms", gateway_.context().config()->timeouts.drain.count()}});
            !sent)
            return errorReply("commit failed, nothing changed: successor unreachable: " + sent.error().message);
        state_ = UpgradeState::Committing;
        link = successor_->link;
        successor_version = successor_->version;
    }
    log::info("upgrade: committed to ", successor_version, "; handing connections over and draining");
    handOffDrainAndExit(link);
    return okReply("committed: " + gateway_.context().version() + " hands its connections to " + successor_version +
                   " and exits when drained");
}

nlohmann::json UpgradeController::rollback(const std::string& why, bool tell_successor) {
    std::lock_guard lock(mutex_);
    if (!successor_ || state_ == UpgradeState::None || state_ == UpgradeState::Committing)
        return errorReply(std::string("no upgrade to roll back (upgrade state: ") +
                          stateName(static_cast<int>(state_)) + ")");
    if (state_ == UpgradeState::CutOver) {
        if (gateway_.dataplane().mode == "bpf") {
            if (auto written = gateway_.steerTo(*gateway_.dataplane().slot); !written)
                log::error("rollback: writing the control entry back failed: ", written.error().message);
        } else {
            gateway_.resumeAccepting();
        }
    }
    gateway_.setPhase("active");
    if (tell_successor) (void)successor_->link->send(MessageType::Stop, {{"reason", why}});
    log::warn("upgrade: rolled back from ", successor_->version, " (pid ", successor_->pid, "): ", why);
    // The successor stays known until its link closes: it hands its connections back meanwhile.
    state_ = UpgradeState::None;
    last_upgrade_error_ = why;
    return okReply("rolled back: new connections go to " + gateway_.context().version() + " again; pid " +
                   std::to_string(successor_->pid) + " drains and exits");
}

void UpgradeController::handOffDrainAndExit(std::shared_ptr<PeerLink> link) {
    drain_thread_ = std::thread([this, link] {
        const bool clean =
            gateway_.handOffAndDrain([link](int fd, const std::string& listener, const std::string& buffered) {
                return link->sendConnection(fd, listener, buffered);
            });
        log::info(clean ? "upgrade: drained, exiting" : "upgrade: drain deadline reached, exiting");
        request_exit_();
    });
}

void UpgradeController::adoptFromPeer(Message& message) {
    const std::string listener = message.payload.value("listener", std::string());
    auto buffered = decodeBase64(message.payload.value("buffered_base64", std::string()));
    if (message.fds.size() != 1 || !buffered) {
        log::warn("upgrade: malformed AdoptConnection (", message.fds.size(), " fds)");
        return;
    }
    if (auto adopted = gateway_.adopt(listener, std::move(message.fds[0]), std::move(*buffered)); !adopted)
        log::warn("upgrade: ", adopted.error().message);
}

Result<void> UpgradeController::followPredecessor(std::shared_ptr<PeerLink> link, const std::string& admin_address,
                                                  const Handover& from) {
    predecessor_ = std::move(link);
    {
        std::lock_guard lock(mutex_);
        predecessor_info_.pid = from.pid;
        predecessor_info_.version = from.version;
    }
    const auto slot = gateway_.dataplane().slot;
    if (auto sent = predecessor_->send(MessageType::Ready,
                                       {{"slot", slot.value_or(0)}, {"admin", admin_address}, {"pid", ::getpid()}});
        !sent)
        return tl::unexpected(sent.error());
    gateway_.setPhase("ready");
    follow_thread_ = std::thread([this] { followLoop(); });
    heartbeat_thread_ = std::thread([this] { heartbeatLoop(); });
    return {};
}

void UpgradeController::followLoop() {
    while (!stopping_) {
        auto message = predecessor_->receive(1s);
        if (!message) {
            if (message.error().errnum == ETIMEDOUT) continue;
            {
                std::lock_guard lock(mutex_);
                predecessor_info_.gone = true;
            }
            if (!stopping_ && !committed_ && !gateway_.draining())
                becomeOwner("the previous version exited before commit");
            return;
        }
        switch (message->type) {
            case MessageType::Activate:
                if (gateway_.dataplane().mode != "bpf") gateway_.resumeAccepting();
                gateway_.setPhase("active");
                log::info("upgrade: cut over: this version now receives new connections");
                break;
            case MessageType::Committed: {
                std::lock_guard lock(mutex_);
                predecessor_info_.drain_deadline =
                    std::chrono::steady_clock::now() + std::chrono::milliseconds(message->payload.value("drain_ms", 0));
            }
                committed_ = true;
                becomeOwner("committed");
                break;
            case MessageType::Stop: {
                log::warn("upgrade: rolled back by the previous version (",
                          message->payload.value("reason", std::string("no reason given")), "); draining");
                auto link = predecessor_;
                if (drain_thread_.joinable()) break;
                handOffDrainAndExit(link);
                break;
            }
            case MessageType::AdoptConnection:
                adoptFromPeer(*message);
                break;
            default:
                log::warn("upgrade: unexpected ", messageTypeName(static_cast<uint16_t>(message->type)),
                          " from the previous version");
        }
    }
}

void UpgradeController::heartbeatLoop() {
    while (!stopping_ && !gateway_.draining()) {
        const auto& context = gateway_.context();
        auto sent = predecessor_->send(MessageType::Heartbeat, {{"connections", context.open_connections.load()},
                                                                {"in_flight", context.in_flight_requests.load()},
                                                                {"healthy", true}});
        if (!sent) return;
        std::this_thread::sleep_for(kHeartbeatInterval);
    }
}

void UpgradeController::becomeOwner(const std::string& why) {
    if (!committed_) {
        // The predecessor died before commit: this version is all that is left.
        if (gateway_.dataplane().mode == "bpf") {
            if (auto written = gateway_.steerTo(*gateway_.dataplane().slot); !written)
                log::error("upgrade: could not steer to this version's slot: ", written.error().message);
        } else {
            gateway_.resumeAccepting();
        }
    }
    gateway_.setPhase("active");
    if (auto served = serveControlSocket(/*replace_live=*/true); !served)
        log::error("upgrade: cannot take over the control socket: ", served.error().message);
    log::info("upgrade: this version is now the running one (", why, ")");
}

nlohmann::json UpgradeController::selfInfo() const {
    const auto& context = gateway_.context();
    nlohmann::json info{{"version", context.version()},
                        {"pid", ::getpid()},
                        {"phase", gateway_.phase()},
                        {"mode", gateway_.dataplane().mode},
                        {"config_path", context.config()->source_path},
                        {"connections", context.open_connections.load()},
                        {"in_flight", context.in_flight_requests.load()},
                        {"connections_handed_off", context.connections_handed_off.load()},
                        {"connections_adopted", context.connections_adopted.load()}};
    if (gateway_.dataplane().slot) info["slot"] = *gateway_.dataplane().slot;
    if (auto deadline = gateway_.drainDeadline()) {
        info["drain_deadline_ms"] = std::max<long>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now())
                   .count());
    }
    return info;
}

nlohmann::json UpgradeController::status() {
    nlohmann::json versions = nlohmann::json::array();
    versions.push_back(selfInfo());
    std::lock_guard lock(mutex_);
    // After commit the previous version drains on until its link closes: it still runs.
    if (committed_ && !predecessor_info_.gone && predecessor_info_.pid > 0) {
        nlohmann::json info{
            {"version", predecessor_info_.version}, {"pid", predecessor_info_.pid}, {"phase", "draining"}};
        if (predecessor_info_.drain_deadline)
            info["drain_deadline_ms"] =
                std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      *predecessor_info_.drain_deadline - std::chrono::steady_clock::now())
                                      .count());
        versions.push_back(info);  // after this version, which stays first
    }
    if (successor_) {
        nlohmann::json info{{"version", successor_->version}, {"pid", successor_->pid}};
        switch (state_) {
            case UpgradeState::Starting:
                info["phase"] = "starting";
                break;
            case UpgradeState::Ready:
                info["phase"] = "ready";
                break;
            case UpgradeState::CutOver:
            case UpgradeState::Committing:
                info["phase"] = "active";
                break;
            case UpgradeState::None:
                info["phase"] = "draining";
                break;
        }
        if (state_ != UpgradeState::Starting && gateway_.dataplane().mode == "bpf") info["slot"] = successor_->slot;
        info["connections"] = successor_->heartbeat.value("connections", 0);
        info["in_flight"] = successor_->heartbeat.value("in_flight", 0);
        versions.push_back(info);
    }
    nlohmann::json reply{{"versions", versions},
                         {"mode", gateway_.dataplane().mode},
                         {"upgrade_state", stateName(static_cast<int>(state_))}};
    if (!gateway_.dataplane().reason.empty()) reply["mode_reason"] = gateway_.dataplane().reason;
    if (!last_upgrade_error_.empty()) reply["last_upgrade_error"] = last_upgrade_error_;
    // This version's own listeners and pin root: gwctl's steering commands default to them.
    auto& listeners = reply["listeners"] = nlohmann::json::array();
    for (const auto& l : gateway_.listeners())
        listeners.push_back({{"name", l.name}, {"address", l.address}, {"sockets", l.sockets}});
    reply["bpffs_root"] = gateway_.context().config()->dataplane.bpffs_root;
    return reply;
}

}  // namespace hotgate::control

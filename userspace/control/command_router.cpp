#include "control/command_router.h"

#include "control/config_engine.h"
#include "control/fd_passing.h"
#include "control/upgrade_controller.h"
#include "control/upgrade_stages.h"
#include "observability/logging.h"
#include "proxy/gateway.h"

namespace hotgate::control {

using namespace std::chrono_literals;

CommandRouter::CommandRouter(Gateway& gateway, UpgradeController& upgrades, std::string control_path)
    : gateway_(gateway), upgrades_(upgrades), control_path_(std::move(control_path)) {}

CommandRouter::~CommandRouter() { stop(); }

Result<void> CommandRouter::listen(bool replace_live) {
    std::lock_guard lock(mutex_);
    if (stopped_) return fail("control: not listening on ", control_path_, ": this version is stopping");
    auto server = ControlServer::listen(
        control_path_, [this](int fd, const ucred& peer) { serveConnection(fd, peer); }, replace_live);
    if (!server) return tl::unexpected(server.error());
    server_ = std::move(*server);
    log::info("control socket ", control_path_, " ready");
    return {};
}

void CommandRouter::stop() {
    std::unique_ptr<ControlServer> server;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        server = std::move(server_);
    }
    if (server) server->stop();
}

void CommandRouter::serveConnection(int fd, const ucred& peer) {
    auto message = receiveMessage(fd, 5s);
    if (!message) {
        log::warn("control: refused a message from pid ", peer.pid, ": ", message.error().message);
        if (message.error().errnum != ECONNRESET)
            (void)sendMessage(fd, MessageType::Error, Reply::failure(message.error().message).toJson());
        return;
    }
    Reply reply;
    switch (message->type) {
        case MessageType::Status:
            (void)sendMessage(fd, MessageType::StatusReply, upgrades_.status().toJson());
            return;
        case MessageType::Hello:
            upgrades_.serveSuccessor(fd, *message);
            return;
        case MessageType::Cutover:
            reply = upgrades_.cutover();
            break;
        case MessageType::Commit:
            reply = upgrades_.commit();
            break;
        case MessageType::Rollback:
            reply = upgrades_.rollback("requested by gwctl rollback");
            break;
        case MessageType::UpgradeStages: {
            auto report = UpgradeStagesReport::fromJson(message->payload);
            reply = report ? upgrades_.recordGwctlStages(*report) : Reply::failure(report.error().message);
            break;
        }
        case MessageType::Verify: {
            auto request = VerifyRequest::fromJson(message->payload);
            reply = request ? upgrades_.verify(*request) : Reply::failure(request.error().message);
            break;
        }
        case MessageType::ConfigApply:
        case MessageType::ConfigRollback:
        case MessageType::ConfigHistory:
        case MessageType::ConfigDiff:
            reply = configRequest(*message);
            break;
        case MessageType::CertsReload:
            reply = reloadCertificates();
            break;
        case MessageType::RotateTicketKey:
            reply = rotateTicketKey();
            break;
        case MessageType::LogsReopen:
            reply = reopenLogs();
            break;
        default:
            reply = Reply::failure(std::string("unexpected ") +
                                   messageTypeName(static_cast<std::uint16_t>(message->type)) +
                                   " from a control client");
    }
    (void)sendMessage(fd, reply.type(), reply.toJson());
}

Reply CommandRouter::configRequest(const Message& message) {
    auto* engine = config_engine_.load();
    if (!engine)
        return Reply::failure("this version has no config engine running (it is a successor not yet in charge)");
    switch (message.type) {
        case MessageType::ConfigApply: {
            auto request = ConfigApplyRequest::fromJson(message.payload);
            if (!request) return Reply::failure(request.error().message);
            return Reply::fromJson(engine->apply(request->path, "gwctl", request->wait));
        }
        case MessageType::ConfigDiff: {
            auto request = ConfigDiffRequest::fromJson(message.payload);
            if (!request) return Reply::failure(request.error().message);
            return Reply::fromJson(engine->diffAgainstRunning(request->path));
        }
        case MessageType::ConfigRollback:
            return Reply::fromJson(engine->rollback("requested by gwctl config rollback"));
        default:
            return Reply::fromJson(engine->history());
    }
}

Reply CommandRouter::reloadCertificates() {
    if (auto reloaded = gateway_.reloadCertificates(); !reloaded) {
        log::warn("TLS: certificate reload refused, the current certificates keep serving: ",
                  reloaded.error().message);
        return Reply::failure(reloaded.error().message);
    }
    log::info("TLS: certificates reloaded");
    return Reply::success("certificates reloaded", {{"tls", gateway_.tlsStatus()}});
}

Reply CommandRouter::reopenLogs() {
    auto reopened = gateway_.reopenAccessLogs();
    if (!reopened) return Reply::failure(reopened.error().message);
    return Reply::success("access log: reopened " + std::to_string(*reopened) + " file" + (*reopened == 1 ? "" : "s"),
                          {{"files", *reopened}});
}

Reply CommandRouter::rotateTicketKey() {
    auto rotated = gateway_.rotateTicketKey();
    if (!rotated) return Reply::failure(rotated.error().message);
    log::info("TLS: session ticket key rotated; keys now ", nlohmann::json(*rotated).dump());
    return Reply::success("session ticket key rotated", {{"session_ticket_keys", *rotated}});
}

}  // namespace hotgate::control

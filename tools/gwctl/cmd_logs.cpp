// gwctl logs reopen: the running version opens its access log files again, for logrotate
// (which has moved them away). SIGUSR1 does the same without an answer.
#include <iostream>

#include "commands.h"
#include "outcome.h"
#include "control_client.h"

namespace gwctl {

using hotgate::control::MessageType;

void addLogsCommands(CLI::App& app, GlobalOptions& global) {
    auto* logs = app.add_subcommand("logs", "the running version's access log files");
    logs->require_subcommand(1);
    logs->add_subcommand("reopen", "open every access log file again (after logrotate moved it away)")
        ->callback([&global] {
            auto reply = controlRequest(global.control_socket, MessageType::LogsReopen);
            if (!reply) failReaching("logs reopen", reply.error());
            const std::string message = reply->payload.value("message", std::string());
            if (reply->type != MessageType::Ok) failWith("logs reopen", message.empty() ? "refused" : message);
            std::cout << (global.json() ? reply->payload.dump(2) : message) << "\n";
        });
}

}  // namespace gwctl

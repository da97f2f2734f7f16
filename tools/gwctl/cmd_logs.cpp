// gwctl logs reopen: the running version opens its access log files again, for logrotate
// (which has moved them away). SIGUSR1 does the same without an answer.
#include "commands.h"
#include "control_client.h"

namespace gwctl {

using hotgate::control::MessageType;

void addLogsCommands(CLI::App& app, GlobalOptions& global) {
    auto* logs = app.add_subcommand("logs", "the running version's access log files");
    logs->require_subcommand(1);
    logs->add_subcommand("reopen", "open every access log file again (after logrotate moved it away)")
        ->callback([&global] { runSimple(global, MessageType::LogsReopen, "logs reopen"); });
}

}  // namespace gwctl

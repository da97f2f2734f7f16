// gwctl upgrade / cutover (through the running version) / commit / rollback: the hot upgrade
// flow of control/protocol.h, driven from the operator's side.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "commands.h"
#include "outcome.h"
#include "config/units.h"
#include "control/journal_stream.h"
#include "control/messages.h"
#include "control/successor_launcher.h"
#include "control_client.h"
#include "stage_report.h"
#include "telemetry/span.h"
#include "upgrade_artifact.h"

namespace gwctl {
namespace {

using hotgate::control::MessageType;
using hotgate::control::StatusReply;
using hotgate::control::UpgradeState;
using hotgate::control::VersionInfo;

struct UpgradeOptions {
    ArtifactOptions artifact;  // --binary and how it is fetched and verified
    std::string config;
    std::string auto_commit;  // duration; empty: no auto-commit
    std::string timeout = "30s";
    std::string log_file;
};

// The running version's Status, or nothing when it does not answer one.
// `error` says why not; its errnum is the transport's (outcome.h), 0 for a reply gwctl cannot read.
std::optional<StatusReply> askStatus(const GlobalOptions& global, hotgate::Error* error = nullptr) {
    auto reply = controlRequest(global.control_socket, MessageType::Status);
    if (!reply) {
        if (error) *error = reply.error();
        return std::nullopt;
    }
    if (reply->type != MessageType::StatusReply) {
        if (error) *error = {"unexpected reply to Status", 0};
        return std::nullopt;
    }
    auto status = StatusReply::fromJson(reply->payload);
    if (!status) {
        if (error) *error = {status.error().message, 0};
        return std::nullopt;
    }
    return std::move(*status);
}

std::optional<VersionInfo> findVersion(const StatusReply& status, int pid) {
    for (const auto& version : status.versions)
        if (version.pid == pid) return version;
    return std::nullopt;
}

std::string stateText(const std::optional<UpgradeState>& state) {
    return state ? std::string(hotgate::control::upgradeStateName(*state)) : "?";
}

struct ConfigCheck {
    bool ok = false;
    std::string output;  // what the binary printed ("config ok: ... (hash ...)", or the problems)
    std::string failure;  // when not ok: the whole sentence for the operator
};

// Runs `binary --check-config config`. A rejection (exit status 1, hotgate's answer to a bad
// config) is told apart from a binary that failed otherwise (another status, a signal: it
// crashed, or it is not a hotgate).
ConfigCheck checkConfigWith(const std::string& binary, const std::string& config) {
    const std::string command = "'" + binary + "' --check-config '" + config + "' 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return {false, {}, "cannot run " + binary + ": " + std::strerror(errno)};
    std::string output;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    const int status = ::pclose(pipe);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {true, output, {}};
    if (!output.empty() && output.back() != '\n') output += '\n';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
        return {false, output, "the new version rejects " + config + ":\n" + output + "The running version serves on."};
    return {false, output,
            "the new binary " + binary + " failed while checking " + config + " (" +
                hotgate::control::describeExit(status) + ")" + (output.empty() ? ". " : ":\n" + output) +
                "Nothing was started; the running version serves on."};
}

int runUpgrade(const GlobalOptions& global, const UpgradeOptions& options) {
    const auto timeout = hotgate::parseDuration(options.timeout);
    if (!timeout)
        failWith("upgrade", "--timeout '" + options.timeout + "' is not a duration (e.g. 30s)", ExitStatus::Usage);
    std::optional<std::chrono::milliseconds> auto_commit;
    if (!options.auto_commit.empty()) {
        auto_commit = hotgate::parseDuration(options.auto_commit);
        if (!auto_commit)
            failWith("upgrade", "--auto-commit '" + options.auto_commit + "' is not a duration (e.g. 5s)",
                     ExitStatus::Usage);
    }
    const auto request = artifactRequest(options.artifact);
    if (!request) failWith("upgrade", request.error().message);

    hotgate::Error status_error;
    const auto status = askStatus(global, &status_error);
    if (!status && status_error.errnum != 0) failReaching("upgrade", status_error);
    if (!status) failWith("upgrade", status_error.message);
    if (status->versions.empty()) failWith("upgrade", "the running version listed no versions");
    const auto& running = status->versions[0];  // the version answering: always first
    if (status->upgrade_state != UpgradeState::None)
        failWith("upgrade", "an upgrade is already in progress (" + stateText(status->upgrade_state) +
                                "): commit or roll it back first");
    if (status->require_signature.value_or(false) && !request->signature)
        failWith("upgrade",
                 "the running version requires a signed binary (upgrade.require_signature: true): give "
                 "--signature FILE --public-key FILE; nothing was run");
    const std::string config = options.config.empty() ? running.config_path.value_or("") : options.config;
    if (config.empty()) failWith("upgrade", "--config is required (the running version did not say its config file)");

    // Fetched and verified before anything runs it, --check-config included. Each stage is
    // reported to the running version for its upgrade trace, a failed one too.
    StageReport stages;
    const auto prepared_at = hotgate::telemetry::unixNanosNow();
    const auto artifact = hotgate::release::prepareArtifact(*request);
    stages.addArtifact(artifact, prepared_at);
    if (!artifact.ok()) {
        stages.send(global, 0);
        failWith("upgrade", artifact.error->message + "; nothing was run, the running version serves on");
    }
    describeArtifact(global.json() ? std::cerr : std::cout, artifact);
    const std::string binary = artifact.binary.string();
    if (::access(binary.c_str(), X_OK) != 0) failWith("upgrade", "binary " + binary + ": " + std::strerror(errno));
    const auto checked_at = hotgate::telemetry::unixNanosNow();
    const auto checked = checkConfigWith(binary, config);
    stages.addPreCheck(checked_at, checked.ok, checked.output, *timeout);
    if (!checked.ok) {
        stages.send(global, 0);
        failWith("upgrade", checked.failure);
    }

    // Where the new version logs: --log; else the journal when gwctl's own output is the journal
    // (ExecReload of hotgate.service), as the first version's is; else a file by the socket.
    hotgate::control::SuccessorLaunch launch{binary, config, global.control_socket};
    launch.log_to_journal = options.log_file.empty() && hotgate::control::journal::isJournalStream(STDERR_FILENO);
    if (!launch.log_to_journal)
        launch.log_file = !options.log_file.empty() ? options.log_file
                                                    : (std::filesystem::path(global.control_socket).parent_path() /
                                                       ("hotgate-" + std::to_string(::time(nullptr)) + ".log"))
                                                          .string();
    auto child = hotgate::control::SuccessorProcess::launch(launch);
    if (!child) failWith("upgrade", child.error().message + "; nothing was started, the running version serves on");
    const pid_t pid = child->pid();
    // The end of the new version's log, for a failure.
    const auto log_tail = [&] {
        return launch.log_file ? hotgate::control::logTail(*launch.log_file, 15)
                               : "  (journalctl _PID=" + std::to_string(pid) + ")\n";
    };
    // With --output json the steps go to stderr and one object to stdout at the end.
    std::ostream& progress = global.json() ? std::cerr : std::cout;
    nlohmann::json result{{"binary", binary}, {"pid", pid}, {"log", launch.log_file.value_or("journal")},
                          {"previous", running.version}};
    progress << "started " << binary << " (pid " << pid << ", log " << launch.log_file.value_or("the journal") << ")\n";
    stages.send(global, pid);

    std::optional<VersionInfo> successor;
    const auto waited = child->waitUntilReady(
        [&] {
            auto now = askStatus(global);
            if (now) successor = findVersion(*now, pid);
            return successor && successor->phase == hotgate::VersionPhase::Ready;
        },
        *timeout, std::chrono::milliseconds(50));
    using Outcome = hotgate::control::SuccessorProcess::Outcome;
    if (waited.outcome == Outcome::Exited)
        failWith("upgrade", "the new version exited before it was ready (" +
                                hotgate::control::describeExit(waited.wait_status) +
                                "); the running version serves on. Its log:\n" + log_tail());
    if (waited.outcome == Outcome::TimedOut) {
        child->terminate();
        failWith("upgrade",
                 "the new version was not ready within " + options.timeout + "; stopped it. Its log:\n" + log_tail());
    }
    progress << "ready: " << successor->version << " (pid " << pid;
    if (successor->slot) progress << ", slot " << *successor->slot;
    progress << "); new connections still go to " << running.version << "\n";
    result["version"] = successor->version;
    if (successor->slot) result["slot"] = *successor->slot;
    if (auto_commit) {
        result["cutover"] = sendSimple(global, MessageType::Cutover, "upgrade");
        printReply(result["cutover"], progress);
        std::this_thread::sleep_for(*auto_commit);
        result["commit"] = sendSimple(global, MessageType::Commit, "upgrade");
        printReply(result["commit"], progress);
    } else {
        progress << "next: gwctl cutover, then gwctl commit (or gwctl rollback)\n";
    }
    if (global.json()) std::cout << result.dump(2) << "\n";
    return 0;
}

}  // namespace

int runControlCutover(const GlobalOptions& global) { return runSimple(global, MessageType::Cutover, "cutover"); }

bool printVersions(const GlobalOptions& global, std::ostream& out) {
    const auto status = askStatus(global);
    if (!status) return false;
    out << "upgrade:      " << stateText(status->upgrade_state) << " ("
        << hotgate::dataplaneModeName(status->mode) << " mode)\n";
    if (!status->last_upgrade_error.empty()) out << "last problem: " << status->last_upgrade_error << "\n";
    out << "versions:\n";
    for (const auto& v : status->versions) {
        out << "  " << v.version << "  pid " << v.pid << "  "
            << (v.phase ? std::string(hotgate::versionPhaseName(*v.phase)) : "?");
        if (v.slot) out << "  slot " << *v.slot;
        if (v.connections) out << "  connections " << *v.connections << "  in flight " << v.in_flight.value_or(0);
        if (v.drain_deadline_ms) out << "  drain deadline in " << *v.drain_deadline_ms << " ms";
        out << "\n";
    }
    return true;
}

void addUpgradeCommands(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<UpgradeOptions>();
    auto* upgrade = app.add_subcommand("upgrade", "start a new version beside the running one and wait until it is ready");
    addArtifactOptions(*upgrade, options->artifact);
    upgrade->add_option("--config", options->config, "its config (default: the running version's)");
    upgrade->add_option("--auto-commit", options->auto_commit, "cut over at once, then commit after this long (e.g. 5s)");
    upgrade->add_option("--timeout", options->timeout, "how long the new version may take to become ready")
        ->capture_default_str();
    upgrade->add_option("--log", options->log_file, "where the new version logs (default: the journal when gwctl's own output is the journal, "
                        "as under hotgate.service; else next to the control socket)");
    upgrade->callback([&global, options] { runUpgrade(global, *options); });

    app.add_subcommand("commit", "finish the upgrade: the old version hands its connections over, drains and exits")
        ->callback([&global] { runSimple(global, MessageType::Commit, "commit"); });
    app.add_subcommand("rollback", "undo the upgrade before commit: new connections go back to the old version")
        ->callback([&global] { runSimple(global, MessageType::Rollback, "rollback"); });
}

}  // namespace gwctl

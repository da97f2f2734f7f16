// gwctl upgrade / cutover (through the running version) / commit / rollback: the hot upgrade
// flow of control/protocol.h, driven from the operator's side.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "commands.h"
#include "config/units.h"
#include "control_client.h"

namespace gwctl {
namespace {

using hotgate::control::Message;
using hotgate::control::MessageType;

struct UpgradeOptions {
    std::string binary;
    std::string config;
    std::string auto_commit;  // duration; empty: no auto-commit
    std::string timeout = "30s";
    std::string log_file;
};

[[noreturn]] void failWith(const std::string& verb, const std::string& message) {
    std::cerr << "gwctl " << verb << ": " << message << "\n";
    throw CLI::RuntimeError(1);
}

// Sends a command and prints its reply; returns the exit status.
int runSimple(const GlobalOptions& global, MessageType type, const char* verb) {
    auto reply = controlRequest(global.control_socket, type);
    if (!reply) failWith(verb, reply.error().message);
    const auto message = reply->payload.value("message", std::string());
    if (reply->type != MessageType::Ok) failWith(verb, message.empty() ? "refused" : message);
    std::cout << message;
    if (reply->payload.contains("write_us"))
        std::cout << " (control entry written in " << reply->payload["write_us"].get<long>() << " us)";
    std::cout << "\n";
    return 0;
}

std::string tailOf(const std::string& path, std::size_t lines) {
    std::ifstream in(path);
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);) all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "  | " + all[i] + "\n";
    return out;
}

std::optional<nlohmann::json> findVersion(const nlohmann::json& status, int pid) {
    for (const auto& version : status.value("versions", nlohmann::json::array()))
        if (version.value("pid", 0) == pid) return version;
    return std::nullopt;
}

// Runs `binary --check-config config`; returns its output when it rejects the file.
std::optional<std::string> checkConfigWith(const std::string& binary, const std::string& config) {
    const std::string command = "'" + binary + "' --check-config '" + config + "' 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return std::string("cannot run ") + binary;
    std::string output;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    const int status = ::pclose(pipe);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return std::nullopt;
    return output.empty() ? std::string("exit status ") + std::to_string(status) : output;
}

int runUpgrade(const GlobalOptions& global, const UpgradeOptions& options) {
    const auto timeout = hotgate::parseDuration(options.timeout);
    if (!timeout) failWith("upgrade", "--timeout '" + options.timeout + "' is not a duration (e.g. 30s)");
    std::optional<std::chrono::milliseconds> auto_commit;
    if (!options.auto_commit.empty()) {
        auto_commit = hotgate::parseDuration(options.auto_commit);
        if (!auto_commit) failWith("upgrade", "--auto-commit '" + options.auto_commit + "' is not a duration (e.g. 5s)");
    }
    if (::access(options.binary.c_str(), X_OK) != 0)
        failWith("upgrade", "binary " + options.binary + ": " + std::strerror(errno));

    auto status = controlRequest(global.control_socket, MessageType::Status);
    if (!status) failWith("upgrade", status.error().message);
    if (status->type != MessageType::StatusReply) failWith("upgrade", "unexpected reply to Status");
    const auto& running = status->payload["versions"][0];  // the version answering: always first
    if (status->payload.value("upgrade_state", "none") != "none")
        failWith("upgrade", "an upgrade is already in progress (" + status->payload.value("upgrade_state", "?") +
                                "): commit or roll it back first");
    const std::string config = options.config.empty() ? running.value("config_path", std::string()) : options.config;
    if (config.empty()) failWith("upgrade", "--config is required (the running version did not say its config file)");
    if (auto rejected = checkConfigWith(options.binary, config))
        failWith("upgrade", "the new version rejects " + config + ":\n" + *rejected + "the running version serves on");

    const std::string log_file = options.log_file.empty()
                                     ? (std::filesystem::path(global.control_socket).parent_path() /
                                        ("hotgate-" + std::to_string(::time(nullptr)) + ".log"))
                                           .string()
                                     : options.log_file;
    const pid_t child = ::fork();
    if (child < 0) failWith("upgrade", std::string("fork: ") + std::strerror(errno));
    if (child == 0) {
        ::setsid();  // the new version outlives gwctl and must not get its terminal's signals
        const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (log >= 0) {
            ::dup2(log, STDOUT_FILENO);
            ::dup2(log, STDERR_FILENO);
        }
        if (null >= 0) ::dup2(null, STDIN_FILENO);
        ::execl(options.binary.c_str(), options.binary.c_str(), "--config", config.c_str(), "--control-socket",
                global.control_socket.c_str(), "--upgrade-from", global.control_socket.c_str(),
                static_cast<char*>(nullptr));
        std::fprintf(stderr, "exec %s: %s\n", options.binary.c_str(), std::strerror(errno));
        ::_exit(127);
    }
    std::cout << "started " << options.binary << " (pid " << child << ", log " << log_file << ")\n";

    const auto deadline = std::chrono::steady_clock::now() + *timeout;
    for (;;) {
        int wstatus = 0;
        if (::waitpid(child, &wstatus, WNOHANG) == child) {
            std::ostringstream why;
            why << "the new version exited before it was ready ("
                << (WIFEXITED(wstatus) ? "exit status " + std::to_string(WEXITSTATUS(wstatus))
                                       : "signal " + std::to_string(WTERMSIG(wstatus)))
                << "); the running version serves on. Its log:\n"
                << tailOf(log_file, 15);
            failWith("upgrade", why.str());
        }
        if (auto now = controlRequest(global.control_socket, MessageType::Status);
            now && now->type == MessageType::StatusReply) {
            if (auto successor = findVersion(now->payload, child); successor && successor->value("phase", "") == "ready") {
                std::cout << "ready: " << successor->value("version", "?") << " (pid " << child;
                if (successor->contains("slot")) std::cout << ", slot " << (*successor)["slot"].get<int>();
                std::cout << "); new connections still go to " << running.value("version", "?") << "\n";
                break;
            }
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(child, SIGTERM);
            failWith("upgrade", "the new version was not ready within " + options.timeout +
                                    "; stopped it. Its log:\n" + tailOf(log_file, 15));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!auto_commit) {
        std::cout << "next: gwctl cutover, then gwctl commit (or gwctl rollback)\n";
        return 0;
    }
    runSimple(global, MessageType::Cutover, "upgrade");
    std::this_thread::sleep_for(*auto_commit);
    return runSimple(global, MessageType::Commit, "upgrade");
}

}  // namespace

int runControlCutover(const GlobalOptions& global) { return runSimple(global, MessageType::Cutover, "cutover"); }

bool printVersions(const GlobalOptions& global, std::ostream& out) {
    auto reply = controlRequest(global.control_socket, MessageType::Status);
    if (!reply || reply->type != MessageType::StatusReply) return false;
    const auto& p = reply->payload;
    out << "upgrade:      " << p.value("upgrade_state", "?") << " (" << p.value("mode", "?") << " mode)\n";
    if (p.contains("last_upgrade_error")) out << "last problem: " << p.value("last_upgrade_error", "") << "\n";
    out << "versions:\n";
    for (const auto& v : p.value("versions", nlohmann::json::array())) {
        out << "  " << v.value("version", "?") << "  pid " << v.value("pid", 0) << "  " << v.value("phase", "?");
        if (v.contains("slot")) out << "  slot " << v["slot"].get<int>();
        if (v.contains("connections"))
            out << "  connections " << v.value("connections", 0) << "  in flight " << v.value("in_flight", 0);
        if (v.contains("drain_deadline_ms")) out << "  drain deadline in " << v["drain_deadline_ms"].get<long>() << " ms";
        out << "\n";
    }
    return true;
}

void addUpgradeCommands(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<UpgradeOptions>();
    auto* upgrade = app.add_subcommand("upgrade", "start a new version beside the running one and wait until it is ready");
    upgrade->add_option("--binary", options->binary, "the new hotgate binary")->required();
    upgrade->add_option("--config", options->config, "its config (default: the running version's)");
    upgrade->add_option("--auto-commit", options->auto_commit, "cut over at once, then commit after this long (e.g. 5s)");
    upgrade->add_option("--timeout", options->timeout, "how long the new version may take to become ready")
        ->capture_default_str();
    upgrade->add_option("--log", options->log_file, "where the new version logs (default: next to the control socket)");
    upgrade->callback([&global, options] { runUpgrade(global, *options); });

    app.add_subcommand("commit", "finish the upgrade: the old version hands its connections over, drains and exits")
        ->callback([&global] { runSimple(global, MessageType::Commit, "commit"); });
    app.add_subcommand("rollback", "undo the upgrade before commit: new connections go back to the old version")
        ->callback([&global] { runSimple(global, MessageType::Rollback, "rollback"); });
}

}  // namespace gwctl

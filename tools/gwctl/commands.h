// Registration of gwctl's verb families; each cmd_*.cpp defines one of these.
#pragma once

#include <CLI/CLI.hpp>

namespace gwctl {

// How commands that print state print it (--output).
enum class OutputFormat { Text, Json };

// Options every verb shares (where the admin endpoint and the pinned BPF maps are).
struct GlobalOptions {
    std::string admin = "127.0.0.1:9901";
    std::string bpffs_root = "/sys/fs/bpf/hotgate";
    std::string control_socket = "/run/hotgate/control.sock";
    const CLI::Option* bpffs_option = nullptr;  // set by main: tells a given --bpffs from the default
    OutputFormat output = OutputFormat::Text;

    // --output json, or the command's own --json.
    bool json(bool command_json = false) const { return command_json || output == OutputFormat::Json; }

    bool bpffsGiven() const { return bpffs_option != nullptr && bpffs_option->count() > 0; }
};

void addStatusCommand(CLI::App& app, GlobalOptions& global);
void addDataplaneCommands(CLI::App& app, GlobalOptions& global);  // cutover, canary, deny
void addUpgradeCommands(CLI::App& app, GlobalOptions& global);    // upgrade, commit, rollback
void addConfigCommands(CLI::App& app, GlobalOptions& global);     // config validate/diff/apply/rollback/history
void addTlsCommands(CLI::App& app, GlobalOptions& global);        // certs reload, tls rotate-ticket-key
void addTopCommand(CLI::App& app, GlobalOptions& global);         // live health view (admin /health, /spikes)
void addVerifyCommand(CLI::App& app, GlobalOptions& global);      // shadow comparison of two versions
void addFleetCommands(CLI::App& app, GlobalOptions& global);      // fleet status (etcd)
void addLogsCommands(CLI::App& app, GlobalOptions& global);       // logs reopen
// completion bash: the script is made when it runs, from every command registered by then.
void addCompletionCommand(CLI::App& app);

// gwctl verify's options (also cutover --verify N's).
struct VerifyOptions {
    std::size_t samples = 100;
    std::vector<std::string> routes;
    std::string timeout = "30s";
    bool replay = false;
};
// Adds --routes and --timeout (verify, and cutover --verify).
void addVerifyOptions(CLI::App& command, VerifyOptions& options);
// Runs a verification through the running version and prints its table (or, with --output
// json, the reply). Returns 0 when every sample matched, 1 on a mismatch, too few samples or a
// refusal; ends gwctl with 2 for a bad --timeout and 3 when no hotgate answers.
int runVerify(const GlobalOptions& global, const VerifyOptions& options, const char* verb);

// `gwctl cutover` without --to: ask the running version (control socket) to cut over to its
// ready successor. Returns the exit status.
int runControlCutover(const GlobalOptions& global);

// The running versions as the control socket reports them, printed one per line; returns false
// (printing nothing) when no hotgate answers on the control socket.
bool printVersions(const GlobalOptions& global, std::ostream& out);

}  // namespace gwctl

// gwctl: the operator's command line for hotgate. Each verb family lives in its cmd_*.cpp.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <map>

#include "commands.h"

namespace {

int run(int argc, char** argv) {
    CLI::App app{
        "gwctl: operate hotgate (status, top, upgrade, cutover, commit, rollback, canary, deny list, config, certs, tls, "
        "verify, fleet, completion)"};
    app.require_subcommand(1);
    // Global options may follow the verb too: `gwctl status --admin 127.0.0.1:9901`.
    app.fallthrough();
    gwctl::GlobalOptions global;
    app.add_option("--admin", global.admin, "hotgate admin address (host:port)")->capture_default_str();
    global.bpffs_option = app.add_option("--bpffs", global.bpffs_root,
                                         "where hotgate pins its BPF maps (default: the running hotgate's root)")
                              ->capture_default_str();
    app.add_option("--control", global.control_socket, "hotgate control socket")->capture_default_str();
    app.add_option("--output,-o", global.output, "how commands that print state print it: text or json")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, gwctl::OutputFormat>{{"text", gwctl::OutputFormat::Text},
                                                       {"json", gwctl::OutputFormat::Json}},
            CLI::ignore_case))
        ->capture_default_str();
    gwctl::addStatusCommand(app, global);
    gwctl::addDataplaneCommands(app, global);
    gwctl::addUpgradeCommands(app, global);
    gwctl::addConfigCommands(app, global);
    gwctl::addTlsCommands(app, global);
    gwctl::addTopCommand(app, global);
    gwctl::addVerifyCommand(app, global);
    gwctl::addFleetCommands(app, global);
    gwctl::addLogsCommands(app, global);
    gwctl::addCompletionCommand(app);
    // Exit statuses (docs/operations.md): 0 ok, 1 refused, 2 usage, 3 hotgate or etcd not
    // reachable. A verb reports 1 or 3 itself; every command-line error is 2.
    try {
        app.parse(argc, argv);
    } catch (const CLI::RuntimeError& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);  // prints the help asked for, or the usage error
        return code == 0 ? 0 : 2;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // Anything a verb did not expect (a malformed reply, no memory) is a message and status 1,
    // not std::terminate.
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "gwctl: " << e.what() << "\n";
        return 1;
    }
}

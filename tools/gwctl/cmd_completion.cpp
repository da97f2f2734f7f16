// gwctl completion bash: prints gwctl's bash completion script, made from the command line
// itself (bash_completion.h). The Debian package installs its output as
// /usr/share/bash-completion/completions/gwctl.
#include <iostream>

#include "bash_completion.h"
#include "commands.h"

namespace gwctl {

void addCompletionCommand(CLI::App& app) {
    auto* completion = app.add_subcommand("completion", "print a shell completion script");
    completion->require_subcommand(1);
    completion->add_subcommand("bash", "bash: source <(gwctl completion bash)")->callback([&app] {
        std::cout << bashCompletionScript(app, "gwctl");
    });
}

}  // namespace gwctl

// The bash completion script of a CLI11 command line (gwctl completion bash), generated from the
// App's own definitions: every subcommand path, the options valid there (the ancestors' too when
// the app falls through, as gwctl's does), and which options take a value. Nothing is listed by
// hand, so the script cannot drift from the command line it completes.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace gwctl {

// A script for `source`: defines _<program>_complete and registers it with `complete -F` for
// `program`. Completes subcommand names, option names (after "-"), and files as the value of an
// option that takes one or where a command has no subcommands left.
std::string bashCompletionScript(const CLI::App& app, const std::string& program);

}  // namespace gwctl

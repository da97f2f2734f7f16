// Registration of gwctl's verb families; each cmd_*.cpp defines one of these.
#pragma once

#include <CLI/CLI.hpp>

namespace gwctl {

// Options every verb shares (where the admin endpoint and the pinned BPF maps are).
struct GlobalOptions {
    std::string admin = "127.0.0.1:9901";
    std::string bpffs_root = "/sys/fs/bpf/hotgate";
};

void addStatusCommand(CLI::App& app, GlobalOptions& global);
void addDataplaneCommands(CLI::App& app, GlobalOptions& global);  // cutover, canary, deny

}  // namespace gwctl

// What the hotgate answering on the control socket says about its own data plane (the Status
// reply's mode, listeners and bpffs_root): the default target of gwctl's data plane commands,
// so they act on that gateway's listener groups and pin root rather than on whatever other
// groups (leftovers, other gateways) sit under the default root.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "commands.h"

namespace gwctl {

struct RunningGateway {
    std::string control_socket;
    std::string mode;                    // "bpf" or "takeover"
    std::string mode_reason;             // why not bpf, when not
    std::string bpffs_root;              // empty when the gateway did not say (an older build)
    std::vector<std::string> listeners;  // its listener names; empty when it did not say
};

// The gateway answering on global.control_socket; nullopt when none answers.
std::optional<RunningGateway> askRunningGateway(const GlobalOptions& global);

// Where the pins are: --bpffs when given, else the running gateway's root, else the default.
std::string bpffsRootFor(const GlobalOptions& global, const std::optional<RunningGateway>& running);

}  // namespace gwctl

// The data-plane part of `gwctl status`: steering mode, per-listener slots (sockets, owner,
// counters), the control entry and the XDP front, read from the pinned maps only.
#pragma once

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

namespace gwctl {

// Prints the BPF data plane pinned under `bpffs_root`. Never fails: a missing or unreadable
// piece is printed as such (with the capability probe's reason when steering is unusable).
void printDataplaneStatus(const std::string& bpffs_root, std::ostream& out);
// The same as JSON (gwctl dataplane --output json): {bpffs_root, steering, listeners: [...],
// xdp_front}; an unreadable piece is {"error": "..."}.
nlohmann::json dataplaneStatusJson(const std::string& bpffs_root);

}  // namespace gwctl

// The handover of control/protocol.h's steps 1 and 2: a successor's Hello and the running
// version's Handover, which carries its listening sockets (takeover mode) or its BPF program
// and maps (BPF mode) as descriptors.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "control/messages.h"
#include "control/peer_link.h"
#include "proxy/route_protection.h"

namespace hotgate {
class Gateway;
}

namespace hotgate::control {

// What a successor learns from its predecessor's Handover, with the descriptors of each
// listener in the order the Handover named them.
struct ReceivedHandover {
    Handover about;
    std::vector<std::pair<std::string, std::vector<UniqueFd>>> listeners;  // name -> fds
    HandedProtection protection;  // empty from a version that had none
};

// Successor, before its gateway exists: sends Hello, then returns the Handover (or the
// running version's refusal, as an Error).
Result<ReceivedHandover> requestHandover(PeerLink& link, const std::string& version, const std::string& config_hash);

// Running version, after admitting a successor: sends it the Handover of `gateway`.
Result<void> sendHandover(PeerLink& link, const Gateway& gateway);

}  // namespace hotgate::control

// The pin groups a gateway leaves under its bpffs root (a steer group per listener, the health
// set) and their garbage collection (dataplane/bpffs_gc.h): what hotgate does when it starts,
// and what `gwctl dataplane --prune` does. The XDP front is never collected: its deny list is
// the operator's and outlives every gateway.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "dataplane/bpffs_gc.h"

namespace hotgate::health {

// Every kind of pin group a gateway makes.
std::vector<dataplane::PinGroupKind> gatewayPinGroupKinds();

// Removes the groups under `bpffs_root` nobody serves any more; see dataplane::prunePinGroups.
Result<std::vector<dataplane::PrunedGroup>> pruneGatewayPins(const std::string& bpffs_root);

}  // namespace hotgate::health

#include "health/gateway_pins.h"

#include "dataplane/steer_loader.h"
#include "health/health_loader.h"

namespace hotgate::health {

std::vector<dataplane::PinGroupKind> gatewayPinGroupKinds() {
    return {dataplane::steerGroupKind(), healthPinKind()};
}

Result<std::vector<dataplane::PrunedGroup>> pruneGatewayPins(const std::string& bpffs_root) {
    const auto kinds = gatewayPinGroupKinds();
    return dataplane::prunePinGroups(bpffs_root, kinds);
}

}  // namespace hotgate::health

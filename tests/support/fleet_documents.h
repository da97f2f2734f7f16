// What the fleet tests share (docs/fleet.md): the fleet's document made from a test config,
// and the hosts' status documents read from etcd.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "fleet/etcd_client.h"
#include "support/gateway_config.h"

namespace hotgate::test {

// `shared`'s fleet part with a /fleet route answering `answer` first, and the config engine's
// settings `engine` (YAML lines under config_engine:, each indented by two spaces).
inline std::string fleetDocument(GatewayConfig shared, const std::string& answer,
                                 const std::string& engine = "  verification_window: 500ms\n") {
    shared.routes.insert(shared.routes.begin(), {.name = "fleet", .match = "{ path: /fleet }", .direct_body = answer});
    return shared.sharedPart() + "config_engine:\n" + engine;
}

// Every registered host's status document under <prefix>/hosts/, by key; empty when etcd
// cannot be read.
inline std::map<std::string, nlohmann::json> fleetStatuses(fleet::EtcdClient& client, const std::string& prefix) {
    std::map<std::string, nlohmann::json> out;
    if (auto listed = client.list(prefix + "/hosts/"))
        for (const auto& [key, value] : listed->kvs) out[key] = nlohmann::json::parse(value.value, nullptr, false);
    return out;
}

}  // namespace hotgate::test

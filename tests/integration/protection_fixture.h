// What the protection tests share: routes with a rate limit or a circuit breaker added in front
// of the default ones, requests sent with a rate-limit key on fresh connections, and the
// breaker's level changes as the gateway logs them.
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "support/gateway_config.h"
#include "support/http_client.h"

namespace hotgate::test {

inline constexpr const char* kClientHeader = "x-client";

// A route to the backend in front of the others, with more keys (YAML lines indented by 4).
inline void addRoute(GatewayConfig& config, const std::string& name, const std::string& extra) {
    GatewayConfig::Route route{name, "{ path_prefix: /" + name + "/ }", "backend", 0, ""};
    route.extra = extra;
    config.routes.insert(config.routes.begin(), route);
}

// The top-level circuit_breaker of the breaker tests: samples every 250 ms over a 3 s window,
// 100 ms of extra p95 or 1.8 times the rate is a signal, 5 requests make a sample.
inline const std::string kFastBreaker =
    "circuit_breaker:\n  enabled: true\n  window: 3s\n  sample_interval: 250ms\n  p95_delta: 100ms\n"
    "  min_requests: 5\n";

struct KeyedResults {
    int ok = 0;
    int limited = 0;
    int other = 0;
    std::vector<std::string> retry_after;  // of the 429s
    std::vector<std::string> versions;     // x-hotgate-version of each answer
};

// `count` GETs of `target` with x-client: `key`, each on a fresh connection (or all on
// `client`, keep-alive, when given).
inline KeyedResults sendKeyed(std::uint16_t port, const std::string& target, const std::string& key, int count,
                              HttpClient* client = nullptr) {
    KeyedResults out;
    for (int i = 0; i < count; ++i) {
        HttpClient fresh(port);
        auto result = (client ? *client : fresh).get(target, {{kClientHeader, key}});
        if (!result.ok()) {
            ++out.other;
            continue;
        }
        out.versions.push_back(result.header("x-hotgate-version"));
        if (result.status() == 200) {
            ++out.ok;
        } else if (result.status() == 429) {
            ++out.limited;
            out.retry_after.push_back(result.header("retry-after"));
        } else {
            ++out.other;
        }
    }
    return out;
}

// The level changes of `route`'s breaker in a gateway log, in order: "L0->L1", ...
inline std::vector<std::string> levelChanges(const std::string& log, const std::string& route) {
    std::vector<std::string> out;
    const std::regex change("circuit breaker: route " + route + " (L[0-3]) -> (L[0-3])");
    for (auto it = std::sregex_iterator(log.begin(), log.end(), change); it != std::sregex_iterator(); ++it)
        out.push_back((*it)[1].str() + "->" + (*it)[2].str());
    return out;
}

}  // namespace hotgate::test

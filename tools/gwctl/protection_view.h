// How gwctl shows route protection (the admin /protection body, docs/protection.md): the
// ROUTES table of `gwctl top` and the route lines of `gwctl status`. Only routes with a circuit
// breaker or a rate limit, or with refusals, are shown.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace gwctl {

// A table, one row per route: breaker level and signals, requests shed and rate-limited.
// Levels above L0 are in colour when `ansi`.
std::string protectionTable(const nlohmann::json& routes, bool ansi);

// "route:        pay breaker L2 (qps 2.3x over, p95 +310ms over), shed 120 (L2) 0 (L3), rate-limited 4"
std::string protectionLines(const nlohmann::json& routes);

}  // namespace gwctl

#include "protection_view.h"

#include <cstdio>
#include <sstream>

namespace gwctl {
namespace {

using nlohmann::json;

bool shown(const json& route) {
    return route.value("breaker_enabled", false) || route.contains("rate_limit_per_second") ||
           route.value("rate_limited", 0) + route.value("shed_l2", 0) + route.value("shed_l3", 0) > 0;
}

std::string pad(std::string text, std::size_t width, bool right = false) {
    if (text.size() >= width) return text;
    return right ? std::string(width - text.size(), ' ') + text : text + std::string(width - text.size(), ' ');
}

std::string format(const char* pattern, double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, pattern, value);
    return buffer;
}

std::string ratio(const json& route) {
    const double value = route.value("qps_ratio", 0.0);
    return value > 0 ? format("%.2fx", value) : "-";
}

std::string delta(const json& route) {
    if (!route.contains("p95_delta_ms")) return "-";
    return format("%+.0fms", route.value("p95_delta_ms", 0.0));
}

}  // namespace

std::string protectionTable(const json& routes, bool ansi) {
    std::size_t width = 5;
    for (const auto& route : routes) width = std::max(width, route.value("route", "?").size());
    std::ostringstream out;
    out << (ansi ? "\x1b[7m" : "") << pad("ROUTE", width) << "  LEVEL   QPS/BASE   P95 DELTA  SHED L2  SHED L3  LIMITED"
        << (ansi ? "\x1b[0m" : "") << "\n";
    bool any = false;
    for (const auto& route : routes) {
        if (!shown(route)) continue;
        any = true;
        const std::string level = route.value("level", std::string("off"));
        const bool raised = level != "L0" && level != "off";
        out << pad(route.value("route", "?"), width) << "  " << (raised && ansi ? "\x1b[1;31m" : "") << pad(level, 5)
            << (raised && ansi ? "\x1b[0m" : "") << "  " << pad(ratio(route) + (route.value("qps_over", false) ? "!" : ""), 9, true)
            << "  " << pad(delta(route) + (route.value("p95_over", false) ? "!" : ""), 10, true) << "  "
            << pad(std::to_string(route.value("shed_l2", 0)), 7, true) << "  "
            << pad(std::to_string(route.value("shed_l3", 0)), 7, true) << "  "
            << pad(std::to_string(route.value("rate_limited", 0)), 7, true)
            << (route.value("critical", true) ? "" : "  non-critical") << "\n";
    }
    if (!any) out << (ansi ? "\x1b[2m" : "") << "(no route has a circuit breaker or a rate limit)" << (ansi ? "\x1b[0m" : "") << "\n";
    return out.str();
}

std::string protectionLines(const json& routes) {
    std::ostringstream out;
    for (const auto& route : routes) {
        if (!shown(route)) continue;
        out << "route:        " << route.value("route", "?");
        if (route.value("breaker_enabled", false))
            out << " breaker " << route.value("level", "?") << " (qps " << ratio(route)
                << (route.value("qps_over", false) ? " over" : "") << ", p95 " << delta(route)
                << (route.value("p95_over", false) ? " over" : "") << ")";
        else
            out << " breaker off";
        if (!route.value("critical", true)) out << ", non-critical";
        out << ", shed " << route.value("shed_l2", 0) << " (L2) " << route.value("shed_l3", 0) << " (L3)";
        if (route.contains("rate_limit_per_second"))
            out << ", limit " << format("%g", route.value("rate_limit_per_second", 0.0)) << "/s";
        out << ", rate-limited " << route.value("rate_limited", 0) << "\n";
    }
    return out.str();
}

}  // namespace gwctl

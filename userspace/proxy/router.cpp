#include "proxy/router.h"

#include <algorithm>
#include <cctype>

namespace hotgate {

std::string normalizeHost(std::string_view host) {
    std::string_view name = host;
    if (!name.empty() && name.front() == '[') {
        const auto close = name.find(']');
        if (close != std::string_view::npos) name = name.substr(0, close + 1);
    } else if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
        name = name.substr(0, colon);
    }
    std::string out(name);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool hostMatches(std::string_view pattern, std::string_view host) {
    if (pattern.empty()) return true;
    if (pattern.size() > 2 && pattern.substr(0, 2) == "*.") {
        const auto suffix = pattern.substr(1);  // ".example.com"
        return host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix;
    }
    return pattern == host;
}

std::optional<std::size_t> Router::match(std::string_view host, std::string_view target) const {
    const std::string normalized_host = normalizeHost(host);
    const std::string_view path = target.substr(0, target.find('?'));
    const auto& routes = config_->routes;
    for (std::size_t i = 0; i < routes.size(); ++i) {
        const auto& m = routes[i].match;
        if (!hostMatches(m.host, normalized_host)) continue;
        if (!m.path.empty() ? path == m.path : path.substr(0, m.path_prefix.size()) == m.path_prefix) return i;
    }
    return std::nullopt;
}

}  // namespace hotgate

// Router: picks the route for a request from its Host header and target, first match wins.
#pragma once

#include <optional>
#include <string_view>

#include "config/config.h"

namespace hotgate {

class Router {
public:
    explicit Router(ConfigSnapshot config) : config_(std::move(config)) {}

    // Index into config().routes of the first route whose host and path match, or nullopt.
    // `host` is the raw Host header (port and case are ignored); `target` the request target
    // (the query string is ignored).
    std::optional<std::size_t> match(std::string_view host, std::string_view target) const;

    const Config& config() const { return *config_; }

private:
    ConfigSnapshot config_;
};

// "Example.COM:8080" -> "example.com"; "[::1]:80" -> "[::1]".
std::string normalizeHost(std::string_view host);

// True when `pattern` (lower case; "" = any, "*.example.com" = any subdomain) matches `host`.
bool hostMatches(std::string_view pattern, std::string_view host);

}  // namespace hotgate

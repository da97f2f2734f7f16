#include "telemetry/http_endpoint.h"

#include <charconv>
#include <optional>

namespace hotgate::telemetry {
namespace {

std::optional<unsigned> parsePort(std::string_view text) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535) return std::nullopt;
    return port;
}

}  // namespace

Result<HttpEndpoint> parseHttpEndpoint(std::string_view url) {
    constexpr std::string_view kScheme = "http://";
    if (url.substr(0, 8) == "https://")
        return fail("OTLP endpoint '", url, "': https is not supported (use http://, e.g. to a local collector)");
    if (url.substr(0, kScheme.size()) != kScheme)
        return fail("OTLP endpoint '", url, "': expected http://host[:port][/path]");
    std::string_view rest = url.substr(kScheme.size());
    if (rest.find_first_of("?#") != std::string_view::npos)
        return fail("OTLP endpoint '", url, "': a query or fragment is not supported");
    const auto slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    HttpEndpoint endpoint;
    endpoint.url = std::string(url);
    endpoint.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return fail("OTLP endpoint '", url, "': unclosed '[' in the host");
        endpoint.host = std::string(authority.substr(1, close - 1));
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':')
            return fail("OTLP endpoint '", url, "': unexpected '", after, "' after the host");
        if (!after.empty()) port_text = after.substr(1);
    } else {
        const auto colon = authority.find(':');
        endpoint.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (endpoint.host.empty()) return fail("OTLP endpoint '", url, "': no host");
    if (authority.find('@') != std::string_view::npos)
        return fail("OTLP endpoint '", url, "': credentials in the URL are not supported");
    if (port_text.empty()) {
        endpoint.port = "80";
    } else {
        const auto port = parsePort(port_text);
        if (!port) return fail("OTLP endpoint '", url, "': port '", port_text, "' is not 1..65535");
        endpoint.port = std::to_string(*port);
    }
    return endpoint;
}

}  // namespace hotgate::telemetry

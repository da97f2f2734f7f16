#include "proxy/lb/request_key.h"

namespace hotgate::lb {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

}  // namespace

std::optional<std::string_view> cookieValue(std::string_view cookie_header, std::string_view name) {
    while (!cookie_header.empty()) {
        const auto end = cookie_header.find(';');
        const std::string_view pair = trim(cookie_header.substr(0, end));
        const auto equals = pair.find('=');
        if (equals != std::string_view::npos && trim(pair.substr(0, equals)) == name)
            return trim(pair.substr(equals + 1));
        if (end == std::string_view::npos) break;
        cookie_header.remove_prefix(end + 1);
    }
    return std::nullopt;
}

std::optional<std::string_view> requestKey(const HashKeySource& source, const http::request_header<>& request,
                                           std::string_view client_ip) {
    switch (source.kind) {
        case HashKeySource::Kind::None: return std::nullopt;
        case HashKeySource::Kind::ClientIp: return client_ip;
        case HashKeySource::Kind::Path: {
            const std::string_view target = request.target();
            return target.substr(0, target.find('?'));
        }
        case HashKeySource::Kind::Header: {
            const auto found = request.find(source.name);
            if (found == request.end()) return std::nullopt;
            return std::string_view(found->value());
        }
        case HashKeySource::Kind::Cookie:
            for (auto it = request.find(http::field::cookie); it != request.end() && it->name() == http::field::cookie; ++it)
                if (auto value = cookieValue(it->value(), source.name)) return value;
            return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace hotgate::lb

#include "config/schema/protection_values.h"

#include <algorithm>
#include <cctype>

#include "config/schema/value_types.h"

namespace hotgate::schema {

std::optional<RateLimitKey> RateLimitKeyValue::parse(Reader& reader, const YAML::Node& node,
                                                     const std::string& path) const {
    auto text = reader.scalar(node, path);
    if (!text) return std::nullopt;
    if (*text == "client_ip") return RateLimitKey{RateLimitKey::Kind::ClientIp, {}};
    if (*text == "route") return RateLimitKey{RateLimitKey::Kind::Route, {}};
    if (text->starts_with("header:")) {
        std::string name = text->substr(7);
        if (!isFieldName(name)) {
            reader.problem(node, path, "'" + *text + "': header: needs a field name without blanks or separators");
            return std::nullopt;
        }
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        return RateLimitKey{RateLimitKey::Kind::Header, name};
    }
    reader.problem(node, path, "must be client_ip, header:NAME or route, got '" + *text + "'");
    return std::nullopt;
}

std::string RateLimitKeyValue::canonical(const RateLimitKey& value) const {
    switch (value.kind) {
        case RateLimitKey::Kind::ClientIp: return "client_ip";
        case RateLimitKey::Kind::Header: return "header:" + value.name;
        case RateLimitKey::Kind::Route: return "route";
    }
    return "";
}

TypeDoc RateLimitKeyValue::doc() const {
    return {"rate limit key", "`client_ip` (the connection's peer address), `header:NAME` or `route` "
                              "(one bucket for the whole route)"};
}

}  // namespace hotgate::schema

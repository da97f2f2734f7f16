#include "config/schema/cluster_values.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "config/schema/value_types.h"

namespace hotgate::schema {

std::optional<EndpointConfig> Endpoint::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    if (!node.IsMap()) {
        auto address = Address{}.parse(reader, node, path);
        if (!address) return std::nullopt;
        return EndpointConfig{*address, 1};
    }
    reader.checkKeys(node, path, {"address", "weight"});
    const YAML::Node address_node = Reader::child(node, "address");
    if (!address_node.IsDefined()) {
        reader.missing(node, path, "address", "");
        return std::nullopt;
    }
    auto address = Address{}.parse(reader, address_node, Reader::join(path, "address"));
    std::optional<std::uint64_t> weight = 1;
    if (const YAML::Node weight_node = Reader::child(node, "weight"); weight_node.IsDefined())
        weight = Integer{1, kMaxWeight}.parse(reader, weight_node, Reader::join(path, "weight"));
    if (!address || !weight) return std::nullopt;
    return EndpointConfig{*address, static_cast<unsigned>(*weight)};
}

std::string Endpoint::canonical(const EndpointConfig& value) const {
    if (value.weight == 1) return value.address.toString();
    return value.address.toString() + " weight=" + std::to_string(value.weight);
}

TypeDoc Endpoint::doc() const {
    return {"endpoint", "IP:port, or {address: IP:port, weight: 1 to " + std::to_string(kMaxWeight) + "} (default 1)"};
}

std::optional<HashKeySource> HashKey::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto text = reader.scalar(node, path);
    if (!text) return std::nullopt;
    if (text->empty()) return HashKeySource{};
    if (*text == "client_ip") return HashKeySource{HashKeySource::Kind::ClientIp, {}};
    if (*text == "path") return HashKeySource{HashKeySource::Kind::Path, {}};
    const auto colon = text->find(':');
    const std::string kind = text->substr(0, colon);
    std::string name = colon == std::string::npos ? std::string() : text->substr(colon + 1);
    if ((kind == "header" || kind == "cookie") && !isFieldName(name)) {
        reader.problem(node, path, "'" + *text + "': " + kind + ": needs a name without blanks or separators");
        return std::nullopt;
    }
    if (kind == "header") {
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        return HashKeySource{HashKeySource::Kind::Header, name};
    }
    if (kind == "cookie") return HashKeySource{HashKeySource::Kind::Cookie, name};
    reader.problem(node, path, "must be header:NAME, cookie:NAME, client_ip or path, got '" + *text + "'");
    return std::nullopt;
}

std::string HashKey::canonical(const HashKeySource& value) const {
    switch (value.kind) {
        case HashKeySource::Kind::None: return "";
        case HashKeySource::Kind::Header: return "header:" + value.name;
        case HashKeySource::Kind::Cookie: return "cookie:" + value.name;
        case HashKeySource::Kind::ClientIp: return "client_ip";
        case HashKeySource::Kind::Path: return "path";
    }
    return "";
}

TypeDoc HashKey::doc() const {
    return {"hash key", "`header:NAME`, `cookie:NAME`, `client_ip` or `path` (without the query)"};
}

std::optional<std::chrono::milliseconds> DurationOrOff::parse(Reader& reader, const YAML::Node& node,
                                                              const std::string& path) const {
    if (node.IsScalar() && node.Scalar() == "off") return std::chrono::milliseconds{0};
    return Duration{}.parse(reader, node, path);
}

std::string DurationOrOff::canonical(std::chrono::milliseconds value) const {
    return value.count() == 0 ? "off" : Duration{}.canonical(value);
}

TypeDoc DurationOrOff::doc() const {
    const TypeDoc duration = Duration{}.doc();
    return {duration.type + " or `off`", duration.bounds};
}

std::optional<std::uint64_t> CountOrOff::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto text = reader.scalar(node, path);
    if (!text) return std::nullopt;
    if (*text == "off") return 0;
    std::uint64_t value = 0;
    const auto* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || ptr != end || value < 1 || value > kMax) {
        reader.problem(node, path,
                       "must be an integer from 1 to " + std::to_string(kMax) + " or 'off', got '" + *text + "'");
        return std::nullopt;
    }
    return value;
}

std::string CountOrOff::canonical(std::uint64_t value) const { return value == 0 ? "off" : std::to_string(value); }

TypeDoc CountOrOff::doc() const { return {"integer or `off`", "1 to " + std::to_string(kMax) + "; `off`: no limit"}; }

}  // namespace hotgate::schema

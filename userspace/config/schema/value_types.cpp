#include "config/schema/value_types.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <thread>

#include <boost/asio/ip/address.hpp>

#include "config/schema/canonical_form.h"
#include "config/units.h"

namespace hotgate::schema {
namespace {

std::string lowerCase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), ::tolower);
    return text;
}

std::string formatNumber(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

}  // namespace

std::optional<std::uint64_t> Integer::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto text = reader.scalar(node, path);
    if (!text) return std::nullopt;
    std::uint64_t value = 0;
    const auto* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || ptr != end) {
        reader.problem(node, path, "must be an integer, got '" + *text + "'");
        return std::nullopt;
    }
    if (value < min || value > max) {
        reader.problem(node, path, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                                       ", got " + *text);
        return std::nullopt;
    }
    return value;
}

TypeDoc Integer::doc() const { return {"integer", std::to_string(min) + " to " + std::to_string(max)}; }

std::optional<std::uint64_t> WorkerCount::parse(Reader& reader, const YAML::Node& node,
                                                const std::string& path) const {
    if (node.IsScalar() && node.Scalar() == "auto") return std::max(1u, std::thread::hardware_concurrency());
    return range.parse(reader, node, path);
}

TypeDoc WorkerCount::doc() const {
    return {"integer or `auto`", range.doc().bounds + "; `auto`: one per CPU"};
}

std::optional<double> Number::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto text = reader.scalar(node, path);
    if (!text) return std::nullopt;
    double value = 0;
    const auto* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || ptr != end || !std::isfinite(value)) {
        reader.problem(node, path, "must be a number, got '" + *text + "'");
        return std::nullopt;
    }
    if (value < min || value > max) {
        reader.problem(node, path,
                       "must be between " + formatNumber(min) + " and " + formatNumber(max) + ", got " + *text);
        return std::nullopt;
    }
    return value;
}

std::string Number::canonical(double value) const { return formatNumber(value); }

TypeDoc Number::doc() const { return {"number", formatNumber(min) + " to " + formatNumber(max)}; }

std::optional<bool> Boolean::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto text = reader.scalar(node, path);
    if (!text) return std::nullopt;
    if (*text == "true" || *text == "yes" || *text == "on") return true;
    if (*text == "false" || *text == "no" || *text == "off") return false;
    reader.problem(node, path, "must be true or false, got '" + *text + "'");
    return std::nullopt;
}

TypeDoc Boolean::doc() const { return {"boolean", "`true` or `false` (also yes/no, on/off)"}; }

std::optional<std::chrono::milliseconds> Duration::parse(Reader& reader, const YAML::Node& node,
                                                         const std::string& path) const {
    auto text = reader.scalar(node, path);
    if (!text) return std::nullopt;
    auto value = parseDuration(*text);
    if (!value) {
        reader.problem(node, path, "must be a duration with a unit (e.g. 500ms, 2s, 1m), got '" + *text + "'");
        return std::nullopt;
    }
    if (value->count() == 0) {
        reader.problem(node, path, "must be greater than zero");
        return std::nullopt;
    }
    return value;
}

TypeDoc Duration::doc() const { return {"duration", "above zero; with a unit: ms, s, m or h"}; }

std::optional<std::uint64_t> Size::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto text = reader.scalar(node, path);
    if (!text) return std::nullopt;
    auto value = parseSize(*text);
    if (!value) {
        reader.problem(node, path, "must be a size (bytes, or with k/MB/GB), got '" + *text + "'");
        return std::nullopt;
    }
    if (*value < min) {
        reader.problem(node, path, "must be at least " + std::to_string(min) + " bytes");
        return std::nullopt;
    }
    if (max != 0 && *value > max) {
        reader.problem(node, path, "must be at most " + std::to_string(max) + " bytes");
        return std::nullopt;
    }
    return value;
}

TypeDoc Size::doc() const {
    const std::string units = "bytes, or with k, MB or GB (binary)";
    std::string bounds;
    if (min > 0) bounds += "at least " + std::to_string(min) + " bytes; ";
    if (max > 0) bounds += "at most " + std::to_string(max) + " bytes; ";
    return {"size", bounds + units};
}

std::optional<SocketAddress> Address::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto text = reader.nonEmptyString(node, path);
    if (!text) return std::nullopt;
    std::string host;
    std::string port;
    if ((*text)[0] == '[') {
        const auto close = text->find("]:");
        if (close == std::string::npos) {
            reader.problem(node, path, "bad address '" + *text + "' (expected [IPv6]:port)");
            return std::nullopt;
        }
        host = text->substr(1, close - 1);
        port = text->substr(close + 2);
    } else {
        const auto colon = text->rfind(':');
        if (colon == std::string::npos || text->find(':') != colon) {
            reader.problem(node, path, "bad address '" + *text + "' (expected IP:port)");
            return std::nullopt;
        }
        host = text->substr(0, colon);
        port = text->substr(colon + 1);
    }
    boost::system::error_code ec;
    const auto ip = boost::asio::ip::make_address(host, ec);
    if (ec) {
        reader.problem(node, path, "bad address '" + *text + "': '" + host +
                                       "' is not an IP address (host names are not supported here)");
        return std::nullopt;
    }
    unsigned port_number = 0;
    auto [ptr, perr] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (perr != std::errc() || ptr != port.data() + port.size() || port_number == 0 || port_number > 65535) {
        reader.problem(node, path, "bad address '" + *text + "': port must be 1-65535");
        return std::nullopt;
    }
    return SocketAddress{ip.to_string(), static_cast<uint16_t>(port_number)};
}

TypeDoc Address::doc() const { return {"IP:port", "an IP literal (IPv6 in brackets) and a port 1 to 65535"}; }

std::optional<std::string> Text::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    return reader.scalar(node, path);
}

std::string Text::canonical(const std::string& value) const { return quoted(value); }

TypeDoc Text::doc() const { return {"text", "any, also empty"}; }

std::optional<std::string> ConfigFile::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto file = reader.nonEmptyString(node, path);
    if (!file) return std::nullopt;
    return reader.resolvePath(*file);
}

std::string ConfigFile::canonical(const std::string& value) const { return quoted(value); }

TypeDoc ConfigFile::doc() const { return {"file", "absolute, or relative to the config file"}; }

std::optional<std::string> AbsolutePath::parse(Reader& reader, const YAML::Node& node,
                                               const std::string& path) const {
    auto text = reader.nonEmptyString(node, path);
    if (!text) return std::nullopt;
    if ((*text)[0] != '/') {
        reader.problem(node, path, "must be an absolute path");
        return std::nullopt;
    }
    return text;
}

TypeDoc AbsolutePath::doc() const { return {"path", "absolute"}; }

std::optional<std::string> HostName::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto name = reader.nonEmptyString(node, path);
    if (!name) return std::nullopt;
    return lowerCase(*name);
}

TypeDoc HostName::doc() const { return {"host name", "case-insensitive"}; }

std::optional<Cidr> IpRange::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto text = reader.nonEmptyString(node, path);
    if (!text) return std::nullopt;
    std::string error;
    auto range = Cidr::parse(*text, &error);
    if (!range) reader.problem(node, path, error);
    return range;
}

TypeDoc IpRange::doc() const { return {"IP range", "`10.0.0.0/8`, `::1/128` or one address; no host bits"}; }

std::optional<std::string> HostMatch::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto host = reader.nonEmptyString(node, path);
    if (!host) return std::nullopt;
    auto lower = lowerCase(*host);
    if (lower == "*") lower.clear();
    return lower;
}

TypeDoc HostMatch::doc() const {
    return {"host", "exact, `*.example.com` (a suffix) or `*` (any); case-insensitive"};
}

std::optional<std::string> UrlPath::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto value = reader.nonEmptyString(node, path);
    if (!value) return std::nullopt;
    if ((*value)[0] != '/') {
        reader.problem(node, path, "must start with '/'");
        return std::nullopt;
    }
    return value;
}

TypeDoc UrlPath::doc() const { return {"URL path", "starts with `/`"}; }

std::optional<std::string> InterfaceName::parse(Reader& reader, const YAML::Node& node,
                                                const std::string& path) const {
    auto name = reader.nonEmptyString(node, path);
    if (!name) return std::nullopt;
    if (name->size() >= 16 || name->find_first_of("/ \t") != std::string::npos) {
        reader.problem(node, path, "'" + *name + "' is not an interface name");
        return std::nullopt;
    }
    return name;
}

TypeDoc InterfaceName::doc() const { return {"interface name", "at most 15 characters, no `/` or blanks"}; }

std::optional<std::string> FieldName::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto name = reader.nonEmptyString(node, path);
    if (!name) return std::nullopt;
    if (!isFieldName(*name)) {
        reader.problem(node, path, "'" + *name + "' is not an HTTP field name");
        return std::nullopt;
    }
    std::transform(name->begin(), name->end(), name->begin(), [](unsigned char c) { return std::tolower(c); });
    return name;
}

TypeDoc FieldName::doc() const { return {"field name", "an HTTP header name, compared in lower case"}; }

std::optional<std::string> EntryName::parse(Reader& reader, const YAML::Node& node, const std::string& path) const {
    auto name = reader.nonEmptyString(node, path);
    if (name && name->find_first_of("[]. \t/") != std::string::npos) {
        reader.problem(node, path, "'" + *name + "' may not contain spaces, '.', '/', '[' or ']'");
        return std::nullopt;
    }
    return name;
}

TypeDoc EntryName::doc() const { return {"name", "unique; no blanks, `.`, `/`, `[` or `]`"}; }

std::optional<std::string> ClusterName::parse(Reader& reader, const YAML::Node& node,
                                              const std::string& path) const {
    auto name = reader.nonEmptyString(node, path);
    if (!name) return std::nullopt;
    reader.afterLoad([node, path, name = *name](Reader& after, const Config& config) {
        if (!config.findCluster(name)) after.problem(node, path, "unknown cluster '" + name + "'");
    });
    return name;
}

TypeDoc ClusterName::doc() const { return {"cluster name", "the `name` of an entry of `clusters`"}; }

bool isFieldName(std::string_view text) {
    static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
    return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
    });
}

}  // namespace hotgate::schema

#include "config/config_loader.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/ip/address.hpp>
#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include "config/units.h"

namespace hotgate {
namespace {

// Walks the YAML tree once, filling a Config and collecting every problem with its line.
// Exceptions from yaml-cpp conversions never escape: each read is checked first.
class ConfigReader {
public:
    ConfigReader(std::string file) : file_(std::move(file)) {}

    ConfigProblems problems;

    void problem(const YAML::Node& at, const std::string& path, const std::string& message) {
        const int line = at.IsDefined() ? at.Mark().line + 1 : 0;
        problems.push_back({file_, line, path.empty() ? message : path + ": " + message});
    }

    // Reports keys of `map` that are not in `allowed` (typos would otherwise silently default).
    void checkKeys(const YAML::Node& map, const std::string& path,
                   std::initializer_list<std::string_view> allowed) {
        for (const auto& entry : map) {
            const auto key = entry.first.Scalar();
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                std::string known;
                for (auto a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
                problem(entry.first, join(path, key), "unknown key (expected one of: " + known + ")");
            }
        }
    }

    bool expectMap(const YAML::Node& node, const std::string& path) {
        if (node.IsMap()) return true;
        problem(node, path, "must be a mapping");
        return false;
    }

    bool expectSequence(const YAML::Node& node, const std::string& path) {
        if (node.IsSequence()) return true;
        problem(node, path, "must be a list");
        return false;
    }

    std::optional<std::string> scalar(const YAML::Node& node, const std::string& path) {
        if (!node.IsScalar()) {
            problem(node, path, "must be a scalar value");
            return std::nullopt;
        }
        return node.Scalar();
    }

    std::optional<std::string> nonEmptyString(const YAML::Node& node, const std::string& path) {
        auto text = scalar(node, path);
        if (text && text->empty()) {
            problem(node, path, "must not be empty");
            return std::nullopt;
        }
        return text;
    }

    std::optional<std::uint64_t> integer(const YAML::Node& node, const std::string& path,
                                         std::uint64_t min, std::uint64_t max) {
        auto text = scalar(node, path);
        if (!text) return std::nullopt;
        std::uint64_t value = 0;
        const auto* end = text->data() + text->size();
        auto [ptr, ec] = std::from_chars(text->data(), end, value);
        if (ec != std::errc() || ptr != end) {
            problem(node, path, "must be an integer, got '" + *text + "'");
            return std::nullopt;
        }
        if (value < min || value > max) {
            problem(node, path, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                                    ", got " + *text);
            return std::nullopt;
        }
        return value;
    }

    void duration(const YAML::Node& node, const std::string& path, std::chrono::milliseconds& out) {
        if (!node.IsDefined()) return;
        auto text = scalar(node, path);
        if (!text) return;
        auto value = parseDuration(*text);
        if (!value) {
            problem(node, path, "must be a duration with a unit (e.g. 500ms, 2s, 1m), got '" + *text + "'");
            return;
        }
        if (value->count() == 0) {
            problem(node, path, "must be greater than zero");
            return;
        }
        out = *value;
    }

    template <typename T>
    void size(const YAML::Node& node, const std::string& path, T& out, std::uint64_t min) {
        if (!node.IsDefined()) return;
        auto text = scalar(node, path);
        if (!text) return;
        auto value = parseSize(*text);
        if (!value) {
            problem(node, path, "must be a size (bytes, or with k/MB/GB), got '" + *text + "'");
            return;
        }
        if (*value < min) {
            problem(node, path, "must be at least " + std::to_string(min) + " bytes");
            return;
        }
        out = static_cast<T>(*value);
    }

    std::optional<SocketAddress> address(const YAML::Node& node, const std::string& path) {
        auto text = nonEmptyString(node, path);
        if (!text) return std::nullopt;
        std::string host;
        std::string port;
        if (!text->empty() && (*text)[0] == '[') {
            const auto close = text->find("]:");
            if (close == std::string::npos) {
                problem(node, path, "bad address '" + *text + "' (expected [IPv6]:port)");
                return std::nullopt;
            }
            host = text->substr(1, close - 1);
            port = text->substr(close + 2);
        } else {
            const auto colon = text->rfind(':');
            if (colon == std::string::npos || text->find(':') != colon) {
                problem(node, path, "bad address '" + *text + "' (expected IP:port)");
                return std::nullopt;
            }
            host = text->substr(0, colon);
            port = text->substr(colon + 1);
        }
        boost::system::error_code ec;
        const auto ip = boost::asio::ip::make_address(host, ec);
        if (ec) {
            problem(node, path, "bad address '" + *text + "': '" + host +
                                    "' is not an IP address (host names are not supported here)");
            return std::nullopt;
        }
        unsigned port_number = 0;
        auto [ptr, perr] = std::from_chars(port.data(), port.data() + port.size(), port_number);
        if (perr != std::errc() || ptr != port.data() + port.size() || port_number == 0 || port_number > 65535) {
            problem(node, path, "bad address '" + *text + "': port must be 1-65535");
            return std::nullopt;
        }
        return SocketAddress{ip.to_string(), static_cast<uint16_t>(port_number)};
    }

    static std::string join(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }

    void readConfig(const YAML::Node& root, Config& config) {
        if (!root.IsMap()) {
            problem(root, "", "the config must be a mapping at the top level");
            return;
        }
        checkKeys(root, "", {"workers", "admin", "dataplane", "listeners", "limits", "timeouts", "routes", "clusters",
                             "health"});

        config.workers = std::max(1u, std::thread::hardware_concurrency());
        if (auto node = root["workers"]; node.IsDefined()) {
            if (node.IsScalar() && node.Scalar() == "auto") {
                // keep the hardware default
            } else if (auto n = integer(node, "workers", 1, 256)) {
                config.workers = static_cast<unsigned>(*n);
            }
        }

        if (auto admin = root["admin"]; admin.IsDefined() && expectMap(admin, "admin")) {
            checkKeys(admin, "admin", {"address"});
            if (admin["address"].IsDefined())
                if (auto a = address(admin["address"], "admin.address")) config.admin.address = *a;
        }

        if (auto dataplane = root["dataplane"]; dataplane.IsDefined() && expectMap(dataplane, "dataplane")) {
            checkKeys(dataplane, "dataplane", {"steering", "bpffs_root", "xdp_interfaces"});
            if (auto list = dataplane["xdp_interfaces"];
                list.IsDefined() && expectSequence(list, "dataplane.xdp_interfaces")) {
                for (std::size_t i = 0; i < list.size(); ++i) {
                    const std::string path = "dataplane.xdp_interfaces[" + std::to_string(i) + "]";
                    auto name = nonEmptyString(list[i], path);
                    if (!name) continue;
                    if (name->size() >= 16 || name->find_first_of("/ \t") != std::string::npos)
                        problem(list[i], path, "'" + *name + "' is not an interface name");
                    else
                        config.dataplane.xdp_interfaces.push_back(*name);
                }
            }
            if (dataplane["steering"].IsDefined())
                if (auto mode = scalar(dataplane["steering"], "dataplane.steering")) {
                    if (*mode == "auto") config.dataplane.steering = true;
                    else if (*mode == "off") config.dataplane.steering = false;
                    else problem(dataplane["steering"], "dataplane.steering", "must be 'auto' or 'off', got '" + *mode + "'");
                }
            if (dataplane["bpffs_root"].IsDefined())
                if (auto root_dir = nonEmptyString(dataplane["bpffs_root"], "dataplane.bpffs_root")) {
                    if ((*root_dir)[0] != '/') problem(dataplane["bpffs_root"], "dataplane.bpffs_root", "must be an absolute path");
                    else config.dataplane.bpffs_root = *root_dir;
                }
        }

        readHealth(root["health"], config.health);
        readListeners(root["listeners"], config);
        readLimits(root["limits"], config.limits);
        readTimeouts(root["timeouts"], config.timeouts);
        readClusters(root["clusters"], config);
        readRoutes(root["routes"], config);
    }

    void readHealth(const YAML::Node& node, HealthConfig& health) {
        if (!node.IsDefined() || !expectMap(node, "health")) return;
        checkKeys(node, "health", {"enabled", "spike_threshold", "spike_p99_factor", "spike_floor", "window"});
        if (node["enabled"].IsDefined())
            if (auto text = scalar(node["enabled"], "health.enabled")) {
                if (*text == "true") health.enabled = true;
                else if (*text == "false") health.enabled = false;
                else problem(node["enabled"], "health.enabled", "must be true or false, got '" + *text + "'");
            }
        std::chrono::milliseconds ms{};
        if (node["spike_threshold"].IsDefined()) {
            ms = std::chrono::duration_cast<std::chrono::milliseconds>(health.spike_threshold);
            duration(node["spike_threshold"], "health.spike_threshold", ms);
            health.spike_threshold = ms;
        }
        if (node["spike_floor"].IsDefined()) {
            ms = std::chrono::duration_cast<std::chrono::milliseconds>(health.spike_floor);
            duration(node["spike_floor"], "health.spike_floor", ms);
            health.spike_floor = ms;
        }
        duration(node["window"], "health.window", health.window);
        if (node["spike_p99_factor"].IsDefined())
            if (auto text = scalar(node["spike_p99_factor"], "health.spike_p99_factor")) {
                char* end = nullptr;
                const double factor = std::strtod(text->c_str(), &end);
                if (text->empty() || end != text->c_str() + text->size() || !(factor >= 0) || factor > 1000)
                    problem(node["spike_p99_factor"], "health.spike_p99_factor",
                            "must be a number between 0 and 1000, got '" + *text + "'");
                else
                    health.spike_p99_factor = factor;
            }
    }

    void readListeners(const YAML::Node& list, Config& config) {
        if (!list.IsDefined()) {
            problem(list, "listeners", "at least one listener is required");
            return;
        }
        if (!expectSequence(list, "listeners")) return;
        if (list.size() == 0) problem(list, "listeners", "at least one listener is required");
        std::set<std::string> names;
        std::set<std::string> addresses;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto item = list[i];
            std::string path = "listeners[" + std::to_string(i) + "]";
            if (!expectMap(item, path)) continue;
            checkKeys(item, path, {"name", "address"});
            ListenerConfig listener;
            if (auto name = requiredName(item, path)) {
                listener.name = *name;
                path = "listeners[" + *name + "]";
                if (!names.insert(*name).second) problem(item["name"], path, "duplicate listener name");
            }
            if (!requirePresent(item, "address", path)) continue;
            if (auto a = address(item["address"], path + ".address")) {
                listener.address = *a;
                if (!addresses.insert(a->toString()).second)
                    problem(item["address"], path + ".address", "address " + a->toString() + " is used by another listener");
            }
            config.listeners.push_back(std::move(listener));
        }
    }

    void readLimits(const YAML::Node& node, Limits& limits) {
        if (!node.IsDefined() || !expectMap(node, "limits")) return;
        checkKeys(node, "limits", {"max_header_bytes", "max_body_bytes", "max_connections"});
        size(node["max_header_bytes"], "limits.max_header_bytes", limits.max_header_bytes, 512);
        size(node["max_body_bytes"], "limits.max_body_bytes", limits.max_body_bytes, 0);
        if (node["max_connections"].IsDefined())
            if (auto n = integer(node["max_connections"], "limits.max_connections", 1, 10'000'000))
                limits.max_connections = *n;
    }

    void readTimeouts(const YAML::Node& node, Timeouts& timeouts) {
        if (!node.IsDefined() || !expectMap(node, "timeouts")) return;
        checkKeys(node, "timeouts", {"header_read", "idle", "upstream_connect", "upstream_response", "drain"});
        duration(node["header_read"], "timeouts.header_read", timeouts.header_read);
        duration(node["idle"], "timeouts.idle", timeouts.idle);
        duration(node["upstream_connect"], "timeouts.upstream_connect", timeouts.upstream_connect);
        duration(node["upstream_response"], "timeouts.upstream_response", timeouts.upstream_response);
        duration(node["drain"], "timeouts.drain", timeouts.drain);
    }

    void readClusters(const YAML::Node& list, Config& config) {
        if (!list.IsDefined() || !expectSequence(list, "clusters")) return;
        std::set<std::string> names;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto item = list[i];
            std::string path = "clusters[" + std::to_string(i) + "]";
            if (!expectMap(item, path)) continue;
            checkKeys(item, path, {"name", "endpoints", "max_idle_per_endpoint"});
            ClusterConfig cluster;
            if (auto name = requiredName(item, path)) {
                cluster.name = *name;
                path = "clusters[" + *name + "]";
                if (!names.insert(*name).second) problem(item["name"], path, "duplicate cluster name");
            }
            if (requirePresent(item, "endpoints", path) && expectSequence(item["endpoints"], path + ".endpoints")) {
                const auto endpoints = item["endpoints"];
                if (endpoints.size() == 0) problem(endpoints, path + ".endpoints", "at least one endpoint is required");
                for (std::size_t e = 0; e < endpoints.size(); ++e)
                    if (auto a = address(endpoints[e], path + ".endpoints[" + std::to_string(e) + "]"))
                        cluster.endpoints.push_back(*a);
            }
            if (item["max_idle_per_endpoint"].IsDefined())
                if (auto n = integer(item["max_idle_per_endpoint"], path + ".max_idle_per_endpoint", 0, 100'000))
                    cluster.max_idle_per_endpoint = *n;
            config.clusters.push_back(std::move(cluster));
        }
    }

    void readRoutes(const YAML::Node& list, Config& config) {
        if (!list.IsDefined()) {
            problem(list, "routes", "at least one route is required");
            return;
        }
        if (!expectSequence(list, "routes")) return;
        std::set<std::string> names;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const auto item = list[i];
            std::string path = "routes[" + std::to_string(i) + "]";
            if (!expectMap(item, path)) continue;
            checkKeys(item, path, {"name", "match", "cluster", "direct_response"});
            RouteConfig route;
            if (auto name = requiredName(item, path)) {
                route.name = *name;
                path = "routes[" + *name + "]";
                if (!names.insert(*name).second) problem(item["name"], path, "duplicate route name");
            }
            readMatch(item["match"], path + ".match", route.match, item);

            const bool has_cluster = item["cluster"].IsDefined();
            const bool has_direct = item["direct_response"].IsDefined();
            if (has_cluster == has_direct) {
                problem(item, path, "needs exactly one of 'cluster' or 'direct_response'");
            } else if (has_cluster) {
                if (auto cluster = nonEmptyString(item["cluster"], path + ".cluster")) {
                    route.cluster = *cluster;
                    if (!config.findCluster(*cluster))
                        problem(item["cluster"], path + ".cluster", "unknown cluster '" + *cluster + "'");
                }
            } else {
                route.direct_response = readDirectResponse(item["direct_response"], path + ".direct_response");
            }
            config.routes.push_back(std::move(route));
        }
    }

    void readMatch(const YAML::Node& node, const std::string& path, RouteMatch& match, const YAML::Node& route) {
        if (!node.IsDefined()) {
            problem(route, path, "is required (use path_prefix: / to match everything)");
            return;
        }
        if (!expectMap(node, path)) return;
        checkKeys(node, path, {"host", "path_prefix", "path"});
        if (node["host"].IsDefined())
            if (auto host = nonEmptyString(node["host"], path + ".host")) {
                match.host = *host;
                std::transform(match.host.begin(), match.host.end(), match.host.begin(), ::tolower);
                if (match.host == "*") match.host.clear();
            }
        const bool has_prefix = node["path_prefix"].IsDefined();
        const bool has_path = node["path"].IsDefined();
        if (has_prefix == has_path) {
            problem(node, path, "needs exactly one of 'path_prefix' or 'path'");
            return;
        }
        const std::string key = has_prefix ? "path_prefix" : "path";
        if (auto value = nonEmptyString(node[key], path + "." + key)) {
            if ((*value)[0] != '/') problem(node[key], path + "." + key, "must start with '/'");
            (has_prefix ? match.path_prefix : match.path) = *value;
        }
    }

    std::optional<DirectResponse> readDirectResponse(const YAML::Node& node, const std::string& path) {
        if (!expectMap(node, path)) return std::nullopt;
        checkKeys(node, path, {"status", "body"});
        DirectResponse response;
        if (node["status"].IsDefined()) {
            auto status = integer(node["status"], path + ".status", 200, 599);
            if (!status) return std::nullopt;
            response.status = static_cast<unsigned>(*status);
        }
        if (node["body"].IsDefined()) {
            auto body = scalar(node["body"], path + ".body");
            if (!body) return std::nullopt;
            response.body = *body;
        }
        return response;
    }

    std::optional<std::string> requiredName(const YAML::Node& item, const std::string& path) {
        if (!requirePresent(item, "name", path)) return std::nullopt;
        auto name = nonEmptyString(item["name"], path + ".name");
        if (name && name->find_first_of("[]. \t/") != std::string::npos) {
            problem(item["name"], path + ".name", "'" + *name + "' may not contain spaces, '.', '/', '[' or ']'");
            return std::nullopt;
        }
        return name;
    }

    bool requirePresent(const YAML::Node& item, const std::string& key, const std::string& path) {
        if (item[key].IsDefined()) return true;
        problem(item, path, "missing required key '" + key + "'");
        return false;
    }

private:
    std::string file_;
};

std::string sha256Hex(const std::string& text, std::size_t hex_digits) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < length && out.size() < hex_digits; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xf]);
    }
    return out.substr(0, hex_digits);
}

}  // namespace

std::string ConfigProblem::format() const {
    return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

std::string formatProblems(const ConfigProblems& problems) {
    std::string out;
    for (const auto& p : problems) out += p.format() + "\n";
    return out;
}

tl::expected<ConfigSnapshot, ConfigProblems> loadConfigText(const std::string& text, const std::string& name) {
    ConfigReader reader(name);
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        return tl::unexpected(ConfigProblems{{name, e.mark.line + 1, "YAML syntax error: " + e.msg}});
    }
    auto config = std::make_shared<Config>();
    config->source_path = name;
    try {
        reader.readConfig(root, *config);
    } catch (const YAML::Exception& e) {
        // Defensive: a conversion we did not pre-check. Still report it with its position.
        reader.problems.push_back({name, e.mark.line + 1, "invalid value: " + e.msg});
    }
    if (!reader.problems.empty()) return tl::unexpected(std::move(reader.problems));
    config->hash = sha256Hex(canonicalText(*config), 12);
    return ConfigSnapshot(std::move(config));
}

tl::expected<ConfigSnapshot, ConfigProblems> loadConfigFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) return tl::unexpected(ConfigProblems{{path, 0, std::string("cannot read file: ") + std::strerror(errno)}});
    std::stringstream text;
    text << in.rdbuf();
    // The absolute path: a successor started by gwctl from another directory reloads it.
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(path, ec);
    return loadConfigText(text.str(), ec ? path : absolute.string());
}

}  // namespace hotgate

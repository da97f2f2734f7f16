#include "config/config_loader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

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

    // A plain number (also when quoted: "0.05"), within [min, max].
    std::optional<double> number(const YAML::Node& node, const std::string& path, double min, double max) {
        auto text = scalar(node, path);
        if (!text) return std::nullopt;
        double value = 0;
        const auto* end = text->data() + text->size();
        auto [ptr, ec] = std::from_chars(text->data(), end, value);
        if (ec != std::errc() || ptr != end || !std::isfinite(value)) {
            problem(node, path, "must be a number, got '" + *text + "'");
            return std::nullopt;
        }
        if (value < min || value > max) {
            std::ostringstream range;
            range << "must be between " << min << " and " << max << ", got " << *text;
            problem(node, path, range.str());
            return std::nullopt;
        }
        return value;
    }

    std::optional<bool> boolean(const YAML::Node& node, const std::string& path) {
        auto text = scalar(node, path);
        if (!text) return std::nullopt;
        if (*text == "true" || *text == "yes" || *text == "on") return true;
        if (*text == "false" || *text == "no" || *text == "off") return false;
        problem(node, path, "must be true or false, got '" + *text + "'");
        return std::nullopt;
    }

    void duration(const YAML::Node& node, const std::string& path, std::chrono::microseconds& out) {
        std::chrono::milliseconds millis{0};
        bool set = false;
        if (node.IsDefined()) {
            auto before = problems.size();
            duration(node, path, millis);
            set = problems.size() == before;
        }
        if (set) out = std::chrono::duration_cast<std::chrono::microseconds>(millis);
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
        checkKeys(root, "",
                  {"workers", "admin", "dataplane", "listeners", "tls", "limits", "timeouts", "routes", "clusters",
                   "health", "config_engine"});

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

        readListeners(root["listeners"], config);
        if (auto tls = root["tls"]; tls.IsDefined() && expectMap(tls, "tls")) {
            checkKeys(tls, "tls", {"session_ticket_keys"});
            if (tls["session_ticket_keys"].IsDefined())
                if (auto file = nonEmptyString(tls["session_ticket_keys"], "tls.session_ticket_keys"))
                    config.tls.session_ticket_keys = resolvePath(*file);
        }
        readLimits(root["limits"], config.limits);
        readTimeouts(root["timeouts"], config.timeouts);
        readClusters(root["clusters"], config);
        readRoutes(root["routes"], config);
        readHealth(root["health"], config.health);
        readConfigEngine(root["config_engine"], config.config_engine);
    }

    void readHealth(const YAML::Node& node, HealthConfig& health) {
        if (!node.IsDefined() || !expectMap(node, "health")) return;
        checkKeys(node, "health", {"enabled", "spike_threshold", "spike_p99_factor", "spike_floor", "window"});
        if (node["enabled"].IsDefined())
            if (auto on = boolean(node["enabled"], "health.enabled")) health.enabled = *on;
        duration(node["spike_threshold"], "health.spike_threshold", health.spike_threshold);
        if (node["spike_p99_factor"].IsDefined())
            if (auto factor = number(node["spike_p99_factor"], "health.spike_p99_factor", 0, 1000))
                health.spike_p99_factor = *factor;
        duration(node["spike_floor"], "health.spike_floor", health.spike_floor);
        duration(node["window"], "health.window", health.window);
    }

    void readConfigEngine(const YAML::Node& node, ConfigEngineConfig& engine) {
        if (!node.IsDefined() || !expectMap(node, "config_engine")) return;
        checkKeys(
            node, "config_engine",
            {"verification_window", "max_5xx_ratio_increase", "p99_factor", "p99_floor", "min_requests", "history"});
        duration(node["verification_window"], "config_engine.verification_window", engine.verification_window);
        if (node["max_5xx_ratio_increase"].IsDefined())
            if (auto ratio = number(node["max_5xx_ratio_increase"], "config_engine.max_5xx_ratio_increase", 0, 1))
                engine.max_5xx_ratio_increase = *ratio;
        if (node["p99_factor"].IsDefined())
            if (auto factor = number(node["p99_factor"], "config_engine.p99_factor", 0, 1000))
                engine.p99_factor = *factor;
        duration(node["p99_floor"], "config_engine.p99_floor", engine.p99_floor);
        if (node["min_requests"].IsDefined())
            if (auto n = integer(node["min_requests"], "config_engine.min_requests", 1, 1'000'000))
                engine.min_requests = *n;
        if (node["history"].IsDefined())
            if (auto n = integer(node["history"], "config_engine.history", 1, 1000)) engine.history = *n;
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
            checkKeys(item, path, {"name", "address", "tls", "trusted_proxies"});
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
            if (auto tls = item["tls"]; tls.IsDefined()) listener.tls = readListenerTls(tls, path + ".tls");
            if (auto ranges = item["trusted_proxies"]; ranges.IsDefined())
                listener.trusted_proxies = readCidrs(ranges, path + ".trusted_proxies");
            config.listeners.push_back(std::move(listener));
        }
    }

    // A set of IP ranges: sorted, duplicates dropped.
    std::vector<Cidr> readCidrs(const YAML::Node& list, const std::string& path) {
        std::vector<Cidr> ranges;
        if (!expectSequence(list, path)) return ranges;
        for (std::size_t n = 0; n < list.size(); ++n) {
            const std::string item_path = path + "[" + std::to_string(n) + "]";
            auto text = nonEmptyString(list[n], item_path);
            if (!text) continue;
            std::string error;
            if (auto range = Cidr::parse(*text, &error))
                ranges.push_back(*range);
            else
                problem(list[n], item_path, error);
        }
        std::sort(ranges.begin(), ranges.end());
        ranges.erase(std::unique(ranges.begin(), ranges.end()), ranges.end());
        return ranges;
    }

    // A file path from the config: absolute as given, else relative to the config file's directory.
    std::string resolvePath(const std::string& path) const {
        if (path.front() == '/') return path;
        return (std::filesystem::path(file_).parent_path() / path).lexically_normal().string();
    }

    // Certificate files are only named here; Certificate::load reads and checks them (the
    // gateway refuses to start, and an apply is refused, when one does not load).
    ListenerTlsConfig readListenerTls(const YAML::Node& node, const std::string& path) {
        ListenerTlsConfig tls;
        if (!expectMap(node, path)) return tls;
        checkKeys(node, path, {"certificates"});
        const auto list = node["certificates"];
        if (!list.IsDefined() || !expectSequence(list, path + ".certificates") || list.size() == 0) {
            problem(node, path + ".certificates", "a TLS listener needs at least one certificate");
            return tls;
        }
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::string item_path = path + ".certificates[" + std::to_string(i) + "]";
            if (!expectMap(list[i], item_path)) continue;
            checkKeys(list[i], item_path, {"certificate_file", "key_file", "sni"});
            TlsCertificateConfig cert;
            for (auto [key, field] :
                 {std::pair{"certificate_file", &cert.certificate_file}, std::pair{"key_file", &cert.key_file}}) {
                if (!requirePresent(list[i], key, item_path)) continue;
                if (auto file = nonEmptyString(list[i][key], item_path + "." + key)) *field = resolvePath(*file);
            }
            if (auto names = list[i]["sni"]; names.IsDefined() && expectSequence(names, item_path + ".sni")) {
                for (std::size_t n = 0; n < names.size(); ++n)
                    if (auto name = nonEmptyString(names[n], item_path + ".sni[" + std::to_string(n) + "]")) {
                        std::string lower = *name;
                        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
                        cert.sni.push_back(lower);
                    }
                // A set of names: order and repeats mean nothing.
                std::sort(cert.sni.begin(), cert.sni.end());
                cert.sni.erase(std::unique(cert.sni.begin(), cert.sni.end()), cert.sni.end());
            }
            tls.certificates.push_back(std::move(cert));
        }
        return tls;
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
        checkKeys(node, "timeouts",
                  {"header_read", "body_read", "send", "idle", "upstream_connect", "upstream_response", "drain"});
        duration(node["header_read"], "timeouts.header_read", timeouts.header_read);
        duration(node["body_read"], "timeouts.body_read", timeouts.body_read);
        duration(node["send"], "timeouts.send", timeouts.send);
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
            checkKeys(item, path, {"name", "endpoints", "max_idle_per_endpoint", "tls"});
            ClusterConfig cluster;
            if (auto name = requiredName(item, path)) {
                cluster.name = *name;
                path = "clusters[" + *name + "]";
                if (!names.insert(*name).second) problem(item["name"], path, "duplicate cluster name");
            }
            if (requirePresent(item, "endpoints", path) && expectSequence(item["endpoints"], path + ".endpoints")) {
                const auto endpoints = item["endpoints"];
                if (endpoints.size() == 0) problem(endpoints, path + ".endpoints", "at least one endpoint is required");
                std::set<std::string> seen;
                for (std::size_t e = 0; e < endpoints.size(); ++e) {
                    const std::string endpoint_path = path + ".endpoints[" + std::to_string(e) + "]";
                    if (auto a = address(endpoints[e], endpoint_path)) {
                        if (!seen.insert(a->toString()).second)
                            problem(endpoints[e], endpoint_path, "duplicate endpoint " + a->toString());
                        cluster.endpoints.push_back(*a);
                    }
                }
                // A set: the order in the file is only the round-robin phase, not meaning.
                std::sort(cluster.endpoints.begin(), cluster.endpoints.end(),
                          [](const SocketAddress& a, const SocketAddress& b) {
                              return std::tie(a.ip, a.port) < std::tie(b.ip, b.port);
                          });
            }
            if (item["max_idle_per_endpoint"].IsDefined())
                if (auto n = integer(item["max_idle_per_endpoint"], path + ".max_idle_per_endpoint", 0, 100'000))
                    cluster.max_idle_per_endpoint = *n;
            if (auto tls = item["tls"]; tls.IsDefined() && expectMap(tls, path + ".tls")) {
                checkKeys(tls, path + ".tls", {"ca_file", "sni", "verify"});
                ClusterTlsConfig upstream_tls;
                if (tls["ca_file"].IsDefined())
                    if (auto file = nonEmptyString(tls["ca_file"], path + ".tls.ca_file")) upstream_tls.ca_file = resolvePath(*file);
                if (tls["sni"].IsDefined())
                    if (auto name = nonEmptyString(tls["sni"], path + ".tls.sni")) {
                        upstream_tls.sni = *name;
                        std::transform(upstream_tls.sni.begin(), upstream_tls.sni.end(), upstream_tls.sni.begin(), ::tolower);
                    }
                if (tls["verify"].IsDefined())
                    if (auto verify = boolean(tls["verify"], path + ".tls.verify")) upstream_tls.verify = *verify;
                cluster.tls = upstream_tls;
            }
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

// gwctl fleet: the fleet's hosts as etcd knows them (docs/fleet.md). Reads etcd directly (the
// endpoints and prefix of a host's config_source, or given), not a hotgate's control socket.
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fleet/config_document.h"
#include "fleet/etcd_client.h"

namespace gwctl {
namespace {

struct FleetOptions {
    std::string config = "/etc/hotgate/hotgate.yaml";
    std::vector<std::string> endpoints;
    std::string prefix;
    bool json = false;
};

std::string ageOf(std::int64_t updated) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return updated > 0 ? std::to_string(std::max<std::int64_t>(0, now - updated)) + "s" : "-";
}

int runStatus(const FleetOptions& options) {
    std::vector<std::string> endpoints = options.endpoints;
    std::string prefix = options.prefix;
    if (endpoints.empty() || prefix.empty()) {
        std::ifstream in(options.config, std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        if (!in) {
            std::cerr << "gwctl fleet status: cannot read " << options.config
                      << " (give --config FILE, or --etcd URL and --prefix P)\n";
            return 2;
        }
        auto source = hotgate::fleet::etcdSourceOf(text.str(), options.config);
        if (!source || !*source) {
            std::cerr << "gwctl fleet status: " << (source ? options.config + " has no config_source.etcd"
                                                           : source.error().message)
                      << "\n";
            return 2;
        }
        if (endpoints.empty()) endpoints = (*source)->endpoints;
        if (prefix.empty()) prefix = (*source)->prefix;
    }
    hotgate::fleet::EtcdClient client(endpoints);
    auto fleet_config = client.get(prefix + "/config");
    if (!fleet_config) {
        std::cerr << "gwctl fleet status: " << fleet_config.error().message << "\n";
        return 3;
    }
    auto hosts = client.list(prefix + "/hosts/");
    if (!hosts) {
        std::cerr << "gwctl fleet status: " << hosts.error().message << "\n";
        return 3;
    }
    const std::int64_t latest = fleet_config->kv ? fleet_config->kv->mod_revision : 0;
    if (options.json) {
        nlohmann::json out{{"prefix", prefix}, {"config_revision", latest}, {"hosts", nlohmann::json::array()}};
        for (const auto& [key, value] : *hosts) {
            auto status = nlohmann::json::parse(value.value, nullptr, false);
            out["hosts"].push_back(status.is_discarded() ? nlohmann::json{{"key", key}, {"unreadable", value.value}}
                                                         : status);
        }
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << prefix << "/config: " << (latest ? "mod_revision " + std::to_string(latest) : "no config") << "\n";
    std::cout << std::left << std::setw(16) << "HOST" << std::setw(34) << "VERSION" << std::setw(10) << "REVISION"
              << std::setw(20) << "STATE" << "AGE\n";
    for (const auto& [key, value] : *hosts) {
        const auto status = nlohmann::json::parse(value.value, nullptr, false);
        if (!status.is_object()) {
            std::cout << key << ": unreadable status\n";
            continue;
        }
        const auto revision = status.value("revision", std::int64_t{0});
        std::string state = status.value("state", std::string("?"));
        if (state == "serving" && revision < latest) state = "behind";
        std::cout << std::setw(16) << status.value("host", std::string("?")) << std::setw(34)
                  << status.value("version", std::string("?")) << std::setw(10) << revision << std::setw(20) << state
                  << ageOf(status.value("updated", std::int64_t{0})) << "\n";
        for (const auto& problem : status.value("problems", nlohmann::json::array()))
            if (problem.is_string()) std::cout << "    " << problem.get<std::string>() << "\n";
    }
    if (hosts->empty()) std::cout << "(no host registered under " << prefix << "/hosts/)\n";
    return 0;
}

}  // namespace

void addFleetCommands(CLI::App& app, GlobalOptions&) {
    auto options = std::make_shared<FleetOptions>();
    auto* fleet = app.add_subcommand("fleet", "the hosts that share a config through etcd (docs/fleet.md)");
    fleet->require_subcommand(1);
    auto* status = fleet->add_subcommand("status", "one row per host: version, config revision, state, age");
    status->add_option("--config", options->config, "a host's file, for its config_source.etcd")
        ->capture_default_str();
    status->add_option("--etcd", options->endpoints, "etcd endpoint URLs (instead of --config's)");
    status->add_option("--prefix", options->prefix, "the fleet's prefix (instead of --config's)");
    status->add_flag("--json", options->json, "print as JSON");
    status->callback([options] {
        if (const int code = runStatus(*options); code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace gwctl

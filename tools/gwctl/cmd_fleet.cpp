// gwctl fleet: the fleet's hosts as etcd knows them (docs/fleet.md). Reads etcd directly (the
// endpoints and prefix of a host's config_source, or given), not a hotgate's control socket.
#include <cctype>
#include <chrono>
#include <map>
#include <optional>
#include <thread>
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "fleet/config_document.h"
#include "fleet/etcd_client.h"
#include "fleet/rollout.h"

namespace gwctl {
namespace {

struct FleetOptions {
    std::string host_config = "/etc/hotgate/hotgate.yaml";
    std::vector<std::string> endpoints;
    std::string prefix;
    hotgate::EtcdTlsConfig tls;  // --cacert, --cert, --key
    bool json = false;
    // rollout
    std::string candidate;
    std::string waves = "1,25%,100%";
    std::string gate = "60s";
    std::string timeout = "120s";
    std::string reason = "by hand (gwctl fleet rollback)";
};

// Where the fleet is, and how to reach it.
struct FleetLocation {
    std::vector<std::string> endpoints;
    std::string prefix;
    std::optional<hotgate::EtcdTlsConfig> tls;

    hotgate::fleet::EtcdClient client() const {
        return hotgate::fleet::EtcdClient(endpoints, std::chrono::milliseconds(3000), tls);
    }
};

// --etcd and --prefix (and --cacert...), else a host's config_source.etcd. Prints why not.
std::optional<FleetLocation> locateFleet(const FleetOptions& options, const char* verb) {
    FleetLocation where{options.endpoints, options.prefix, std::nullopt};
    if (options.tls.cert_file.empty() != options.tls.key_file.empty()) {
        std::cerr << "gwctl fleet " << verb << ": --cert and --key go together\n";
        return std::nullopt;
    }
    if (!options.tls.ca_file.empty()) where.tls = options.tls;
    if (!where.endpoints.empty() && !where.prefix.empty()) return where;
    const auto text = hotgate::fleet::readFileText(options.host_config);
    if (!text) {
        std::cerr << "gwctl fleet " << verb << ": cannot read " << options.host_config
                  << " (give --host-config FILE, or --etcd URL and --prefix P)\n";
        return std::nullopt;
    }
    auto source = hotgate::fleet::etcdSourceOf(*text, options.host_config);
    if (!source || !*source) {
        std::cerr << "gwctl fleet " << verb << ": "
                  << (source ? options.host_config + " has no config_source.etcd" : source.error().message) << "\n";
        return std::nullopt;
    }
    if (where.endpoints.empty()) {
        where.endpoints = (*source)->endpoints;
        if (!where.tls) where.tls = (*source)->tls;
    }
    if (where.prefix.empty()) where.prefix = (*source)->prefix;
    return where;
}

std::string ageOf(std::int64_t updated) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    return updated > 0 ? std::to_string(std::max<std::int64_t>(0, now - updated)) + "s" : "-";
}

int runStatus(const FleetOptions& options) {
    const auto where = locateFleet(options, "status");
    if (!where) return 2;
    const std::string& prefix = where->prefix;
    auto client = where->client();
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
        for (const auto& [key, value] : hosts->kvs) {
            auto status = nlohmann::json::parse(value.value, nullptr, false);
            out["hosts"].push_back(status.is_discarded() ? nlohmann::json{{"key", key}, {"unreadable", value.value}}
                                                         : status);
        }
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::cout << prefix << "/config: " << (latest ? "mod_revision " + std::to_string(latest) : "no config") << "\n";
    std::cout << std::left << std::setw(16) << "HOST" << std::setw(34) << "VERSION" << std::setw(10) << "REVISION"
              << std::setw(20) << "STATE" << std::setw(11) << "VERDICT" << "AGE\n";
    for (const auto& [key, value] : hosts->kvs) {
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
                  << std::setw(11) << status.value("verdict", std::string("?"))
                  << ageOf(status.value("updated", std::int64_t{0})) << "\n";
        if (const auto why = status.value("verdict_reason", std::string()); !why.empty())
            std::cout << "    " << why << "\n";
        for (const auto& problem : status.value("problems", nlohmann::json::array()))
            if (problem.is_string()) std::cout << "    " << problem.get<std::string>() << "\n";
    }
    if (hosts->kvs.empty()) std::cout << "(no host registered under " << prefix << "/hosts/)\n";
    return 0;
}


// "60s", "1500ms", "2m": a duration for the rollout's gate and timeout; nullopt when malformed.
std::optional<std::chrono::milliseconds> parseDuration(const std::string& text) {
    std::size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    if (digits == 0 || digits > 9) return std::nullopt;
    const long long amount = std::stoll(text.substr(0, digits));
    const std::string unit = text.substr(digits);
    if (unit == "ms") return std::chrono::milliseconds(amount);
    if (unit == "s") return std::chrono::seconds(amount);
    if (unit == "m") return std::chrono::minutes(amount);
    return std::nullopt;
}

// The registered hosts' status documents by host id.
std::map<std::string, nlohmann::json> hostStatuses(hotgate::fleet::EtcdClient& client, const std::string& prefix,
                                                   std::string& error) {
    std::map<std::string, nlohmann::json> out;
    auto hosts = client.list(prefix + "/hosts/");
    if (!hosts) {
        error = hosts.error().message;
        return out;
    }
    for (const auto& [key, value] : hosts->kvs) {
        auto status = nlohmann::json::parse(value.value, nullptr, false);
        if (status.is_object()) out[key.substr(prefix.size() + 7)] = std::move(status);
    }
    return out;
}

// Marks the rollout rolled back (every host in it returns to <prefix>/config) and says why.
int rollBack(hotgate::fleet::EtcdClient& client, const std::string& prefix, hotgate::fleet::Rollout rollout,
             const std::string& reason) {
    rollout.state = hotgate::fleet::RolloutState::RolledBack;
    rollout.reason = reason;
    if (auto put = client.put(hotgate::fleet::rolloutKey(prefix), rollout.toJson()); !put) {
        std::cerr << "gwctl fleet rollout: rolling back failed: " << put.error().message << "\n";
        return 3;
    }
    std::cerr << "gwctl fleet rollout: rolled back " << rollout.id << ": " << reason << "\n";
    return 1;
}

int runRollout(const FleetOptions& options) {
    using Clock = std::chrono::steady_clock;
    namespace fleet = hotgate::fleet;
    const auto gate = parseDuration(options.gate);
    const auto timeout = parseDuration(options.timeout);
    if (!gate || !timeout) {
        std::cerr << "gwctl fleet rollout: --gate and --timeout take a duration (60s, 1500ms, 2m)\n";
        return 2;
    }
    const auto where = locateFleet(options, "rollout");
    if (!where) return 2;
    const std::string& prefix = where->prefix;
    const auto text = hotgate::fleet::readFileText(options.candidate);
    if (!text) {
        std::cerr << "gwctl fleet rollout: cannot read --config " << options.candidate << "\n";
        return 2;
    }
    const std::string& candidate = *text;
    // What every host would refuse alike (not YAML, a host's key) is refused here; the rest
    // each host validates with its own part.
    if (auto merged = fleet::mergeConfig("", "(host)", candidate, options.candidate, 0); !merged) {
        std::cerr << "gwctl fleet rollout: " << merged.error().message << "\n";
        return 1;
    }
    auto client = where->client();
    std::string error;
    auto statuses = hostStatuses(client, prefix, error);
    if (!error.empty()) {
        std::cerr << "gwctl fleet rollout: " << error << "\n";
        return 3;
    }
    std::vector<std::string> hosts;
    hosts.reserve(statuses.size());
    for (const auto& [host, status] : statuses) hosts.push_back(host);
    auto waves = fleet::planWaves(options.waves, hosts);
    if (!waves) {
        std::cerr << "gwctl fleet rollout: " << waves.error().message << "\n";
        return 2;
    }
    auto current = client.get(prefix + "/config");
    auto previous = client.get(fleet::rolloutKey(prefix));
    if (!current || !previous) {
        std::cerr << "gwctl fleet rollout: " << (!current ? current.error().message : previous.error().message) << "\n";
        return 3;
    }
    if (previous->kv) {
        if (auto running = fleet::Rollout::fromJson(previous->kv->value);
            running && running->state == fleet::RolloutState::Running) {
            std::cerr << "gwctl fleet rollout: rollout " << running->id
                      << " is running; wait for it or gwctl fleet rollback\n";
            return 1;
        }
    }
    const std::int64_t config_revision = current->kv ? current->kv->mod_revision : 0;
    fleet::Rollout rollout;
    rollout.id = "r" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
    rollout.candidate = candidate;
    rollout.waves = *waves;
    // Written only if neither the config nor the rollout record moved since they were read.
    auto written = client.putIfUnchanged({{fleet::rolloutKey(prefix), rollout.toJson()}},
                                         {{prefix + "/config", config_revision},
                                          {fleet::rolloutKey(prefix), previous->kv ? previous->kv->mod_revision : 0}});
    if (!written || !*written) {
        std::cerr << "gwctl fleet rollout: "
                  << (written ? "the fleet's config or rollout changed meanwhile; try again" : written.error().message)
                  << "\n";
        return written ? 1 : 3;
    }
    std::cout << "rollout " << rollout.id << ": " << hosts.size() << " hosts in " << waves->size() << " waves, gate "
              << options.gate << "\n";
    for (std::size_t wave = 0; wave < waves->size(); ++wave) {
        rollout.active = wave + 1;
        if (auto put = client.put(fleet::rolloutKey(prefix), rollout.toJson()); !put)
            return rollBack(client, prefix, rollout, "etcd: " + put.error().message);
        std::cout << "wave " << wave + 1 << "/" << waves->size() << ":";
        for (const auto& host : (*waves)[wave]) std::cout << " " << host;
        std::cout << std::endl;
        const auto give_up = Clock::now() + *timeout;
        std::optional<Clock::time_point> healthy_since;
        for (;;) {
            statuses = hostStatuses(client, prefix, error);
            std::vector<std::string> waiting;
            for (std::size_t w = 0; w <= wave; ++w)
                for (const auto& host : (*waves)[w]) {
                    const auto found = statuses.find(host);
                    if (found == statuses.end()) {
                        waiting.push_back(host + " (not registered)");
                        continue;
                    }
                    const auto& status = found->second;
                    const bool on_candidate = status.value("rollout", std::string()) == rollout.id;
                    const std::string state = status.value("state", std::string());
                    const std::string verdict = status.value("verdict", std::string());
                    if (on_candidate && (state == "refused" || state == "rolled_back")) {
                        std::string why;
                        for (const auto& problem : status.value("problems", nlohmann::json::array()))
                            if (problem.is_string() && why.empty()) why = problem.get<std::string>();
                        return rollBack(client, prefix, rollout,
                                        "host " + host +
                                            (state == "refused" ? " refused the candidate: " : " failed verification: ") +
                                            why);
                    }
                    if (on_candidate && state == "serving" && verdict == "unhealthy")
                        return rollBack(client, prefix, rollout,
                                        "host " + host + " is unhealthy on the candidate: " +
                                            status.value("verdict_reason", std::string()));
                    if (!on_candidate || state != "serving" || verdict != "healthy") waiting.push_back(host);
                }
            if (waiting.empty()) {
                if (!healthy_since) healthy_since = Clock::now();
                if (Clock::now() - *healthy_since >= *gate) break;
            } else {
                healthy_since.reset();
            }
            if (Clock::now() >= give_up) {
                std::string list;
                for (const auto& host : waiting) list += (list.empty() ? "" : ", ") + host;
                return rollBack(client, prefix, rollout,
                                "wave " + std::to_string(wave + 1) + " not healthy within " + options.timeout + ": " +
                                    list);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        std::cout << "wave " << wave + 1 << " healthy for " << options.gate << std::endl;
    }
    // Every host serves the candidate: it becomes the fleet's config, unless that moved.
    rollout.state = fleet::RolloutState::Done;
    auto finished = client.putIfUnchanged({{prefix + "/config", candidate}, {fleet::rolloutKey(prefix), rollout.toJson()}},
                                          {{prefix + "/config", config_revision}});
    if (!finished || !*finished) {
        rollout.state = fleet::RolloutState::Running;
        return rollBack(client, prefix, rollout,
                        finished ? "the fleet's config changed during the rollout" : finished.error().message);
    }
    std::cout << "rollout " << rollout.id << " done: " << prefix << "/config is the candidate\n";
    return 0;
}

int runRollback(const FleetOptions& options) {
    namespace fleet = hotgate::fleet;
    const auto where = locateFleet(options, "rollback");
    if (!where) return 2;
    const std::string& prefix = where->prefix;
    auto client = where->client();
    auto record = client.get(fleet::rolloutKey(prefix));
    if (!record) {
        std::cerr << "gwctl fleet rollback: " << record.error().message << "\n";
        return 3;
    }
    if (!record->kv) {
        std::cerr << "gwctl fleet rollback: no rollout under " << prefix << "\n";
        return 1;
    }
    auto rollout = fleet::Rollout::fromJson(record->kv->value);
    if (!rollout || rollout->state != fleet::RolloutState::Running) {
        std::cerr << "gwctl fleet rollback: no rollout is running under " << prefix << "\n";
        return 1;
    }
    const int code = rollBack(client, prefix, *rollout, options.reason);
    return code == 1 ? 0 : code;  // 1: rolled back, as asked
}

}  // namespace

void addFleetCommands(CLI::App& app, GlobalOptions&) {
    auto options = std::make_shared<FleetOptions>();
    auto* fleet = app.add_subcommand("fleet", "the hosts that share a config through etcd (docs/fleet.md)");
    fleet->require_subcommand(1);
    auto located = [options](CLI::App* command) {
        command->add_option("--host-config", options->host_config, "a host's file, for its config_source.etcd")
            ->capture_default_str();
        command->add_option("--etcd", options->endpoints, "etcd endpoint URLs (instead of --host-config's)");
        command->add_option("--prefix", options->prefix, "the fleet's prefix (instead of --host-config's)");
        command->add_option("--cacert", options->tls.ca_file, "TLS to etcd (https:// endpoints): the CA file");
        command->add_option("--cert", options->tls.cert_file, "TLS to etcd: a client certificate")->needs("--cacert");
        command->add_option("--key", options->tls.key_file, "TLS to etcd: its key")->needs("--cert");
    };
    auto* status = fleet->add_subcommand("status", "one row per host: version, config revision, state, age");
    located(status);
    status->add_flag("--json", options->json, "print as JSON");
    status->callback([options] {
        if (const int code = runStatus(*options); code != 0) throw CLI::RuntimeError(code);
    });
    auto* rollout = fleet->add_subcommand(
        "rollout", "roll a fleet config out in waves; each waits until its hosts serve it for --gate, any "
                   "refusal or --timeout rolls every host back");
    located(rollout);
    rollout->add_option("--config", options->candidate, "the fleet config (YAML) to roll out")->required();
    rollout->add_option("--waves", options->waves, "host counts or shares, from the start: 1,25%,100%")
        ->capture_default_str();
    rollout->add_option("--gate", options->gate, "how long each wave must serve it before the next")
        ->capture_default_str();
    rollout->add_option("--timeout", options->timeout, "each wave's bound to become healthy")->capture_default_str();
    rollout->callback([options] {
        if (const int code = runRollout(*options); code != 0) throw CLI::RuntimeError(code);
    });
    auto* rollback = fleet->add_subcommand("rollback", "end the running rollout: its hosts return to the fleet config");
    located(rollback);
    rollback->add_option("--reason", options->reason, "recorded in the rollout")->capture_default_str();
    rollback->callback([options] {
        if (const int code = runRollback(*options); code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace gwctl

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
#include "config/units.h"
#include "fleet_waves.h"
#include "release/artifact_verify.h"
#include "fleet/config_document.h"
#include "fleet/etcd_client.h"
#include "fleet/rollout.h"

namespace gwctl {
namespace {

namespace fleet = hotgate::fleet;

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
    // upgrade
    std::string binary;
    std::string sha256;
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


// A rollout written to etcd, its waves still closed.
struct StartedRollout {
    std::string prefix;
    std::unique_ptr<fleet::EtcdClient> client;
    fleet::Rollout rollout;
    WaveBounds bounds;
    std::int64_t config_revision = 0;  // of <prefix>/config when the rollout was written
};
using Statuses = std::map<std::string, nlohmann::json>;

// Plans the waves over the registered hosts, lets `fill` say what is rolled out, and writes the
// record, only if neither <prefix>/config nor the rollout record moved since they were read.
// The exit status when it cannot.
std::optional<int> startRollout(const FleetOptions& options, const char* verb,
                                const std::function<void(fleet::Rollout&, const Statuses&)>& fill,
                                StartedRollout& started) {
    const std::string command = std::string("gwctl fleet ") + verb + ": ";
    const auto gate = hotgate::parseDuration(options.gate);
    const auto timeout = hotgate::parseDuration(options.timeout);
    if (!gate || !timeout) {
        std::cerr << command << "--gate and --timeout take a duration (60s, 1500ms, 2m)\n";
        return 2;
    }
    started.bounds = {*gate, *timeout, options.gate, options.timeout};
    const auto where = locateFleet(options, verb);
    if (!where) return 2;
    started.prefix = where->prefix;
    const std::string& prefix = started.prefix;
    started.client = std::make_unique<fleet::EtcdClient>(where->endpoints, std::chrono::milliseconds(3000), where->tls);
    auto& client = *started.client;
    std::string error;
    const auto statuses = hostStatuses(client, prefix, error);
    if (!error.empty()) {
        std::cerr << command << error << "\n";
        return 3;
    }
    std::vector<std::string> hosts;
    hosts.reserve(statuses.size());
    for (const auto& [host, status] : statuses) hosts.push_back(host);
    auto waves = fleet::planWaves(options.waves, hosts);
    if (!waves) {
        std::cerr << command << waves.error().message << "\n";
        return 2;
    }
    auto current = client.get(prefix + "/config");
    auto previous = client.get(fleet::rolloutKey(prefix));
    if (!current || !previous) {
        std::cerr << command << (!current ? current.error().message : previous.error().message) << "\n";
        return 3;
    }
    if (previous->kv) {
        if (auto running = fleet::Rollout::fromJson(previous->kv->value);
            running && running->state == fleet::RolloutState::Running) {
            std::cerr << command << "rollout " << running->id << " is running; wait for it or gwctl fleet rollback\n";
            return 1;
        }
    }
    started.config_revision = current->kv ? current->kv->mod_revision : 0;
    auto& rollout = started.rollout;
    rollout.id = "r" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
    rollout.waves = *waves;
    fill(rollout, statuses);
    auto written = client.putIfUnchanged({{fleet::rolloutKey(prefix), rollout.toJson()}},
                                         {{prefix + "/config", started.config_revision},
                                          {fleet::rolloutKey(prefix), previous->kv ? previous->kv->mod_revision : 0}});
    if (!written || !*written) {
        std::cerr << command
                  << (written ? "the fleet's config or rollout changed meanwhile; try again" : written.error().message)
                  << "\n";
        return written ? 1 : 3;
    }
    std::cout << "rollout " << rollout.id << ": " << hosts.size() << " hosts in " << waves->size() << " waves, gate "
              << options.gate << "\n";
    return std::nullopt;
}

// The first problem a host status lists.
std::string firstProblem(const nlohmann::json& status) {
    for (const auto& problem : status.value("problems", nlohmann::json::array()))
        if (problem.is_string()) return problem.get<std::string>();
    return {};
}

int runRollout(const FleetOptions& options) {
    const auto text = fleet::readFileText(options.candidate);
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
    StartedRollout started;
    if (auto failed = startRollout(
            options, "rollout", [&](fleet::Rollout& rollout, const Statuses&) { rollout.candidate = candidate; },
            started))
        return *failed;
    auto& client = *started.client;
    const auto& prefix = started.prefix;
    auto& rollout = started.rollout;
    const auto judge = [&](const nlohmann::json& status, std::string& why) {
        const bool on_candidate = status.value("rollout", std::string()) == rollout.id;
        const std::string state = status.value("state", std::string());
        const std::string verdict = status.value("verdict", std::string());
        if (on_candidate && state == "refused") why = "refused the candidate: " + firstProblem(status);
        if (on_candidate && state == "rolled_back") why = "failed verification: " + firstProblem(status);
        if (on_candidate && state == "serving" && verdict == "unhealthy")
            why = "is unhealthy on the candidate: " + status.value("verdict_reason", std::string());
        if (!why.empty()) return HostStep::Failed;
        return on_candidate && state == "serving" && verdict == "healthy" ? HostStep::Healthy : HostStep::Waiting;
    };
    if (const int code = driveWaves(client, prefix, rollout, started.bounds, judge); code != 0) return code;
    // Every host serves the candidate: it becomes the fleet's config, unless that moved.
    rollout.state = fleet::RolloutState::Done;
    auto finished = client.putIfUnchanged({{prefix + "/config", candidate}, {fleet::rolloutKey(prefix), rollout.toJson()}},
                                          {{prefix + "/config", started.config_revision}});
    if (!finished || !*finished) {
        rollout.state = fleet::RolloutState::Running;
        return rollBack(client, prefix, rollout,
                        finished ? "the fleet's config changed during the rollout" : finished.error().message);
    }
    std::cout << "rollout " << rollout.id << " done: " << prefix << "/config is the candidate\n";
    return 0;
}

int runUpgrade(const FleetOptions& options) {
    auto sha256 = hotgate::release::parseSha256Hex(options.sha256);
    if (options.binary.empty() || !sha256) {
        std::cerr << "gwctl fleet upgrade: --binary PATH|URL and --sha256 HEX are required"
                  << (sha256 || options.sha256.empty() ? "" : " (--sha256: " + sha256.error().message + ")") << "\n";
        return 2;
    }
    StartedRollout started;
    if (auto failed = startRollout(
            options, "upgrade",
            [&](fleet::Rollout& rollout, const Statuses& statuses) {
                rollout.binary = fleet::BinaryTarget{options.binary, *sha256};
                // What each host returns to if this is rolled back.
                for (const auto& [host, status] : statuses)
                    rollout.previous[host] = status.value("binary_sha256", std::string());
            },
            started))
        return *failed;
    auto& rollout = started.rollout;
    const auto judge = [&](const nlohmann::json& status, std::string& why) {
        const bool on_binary = status.value("binary_sha256", std::string()) == rollout.binary->sha256;
        const std::string state = status.value("state", std::string());
        const std::string verdict = status.value("verdict", std::string());
        if (!on_binary && state == "upgrade_failed" && status.value("rollout", std::string()) == rollout.id)
            why = "could not run the binary: " + firstProblem(status);
        if (on_binary && verdict == "unhealthy")
            why = "is unhealthy on the binary: " + status.value("verdict_reason", std::string());
        if (!why.empty()) return HostStep::Failed;
        return on_binary && state == "serving" && verdict == "healthy" ? HostStep::Healthy : HostStep::Waiting;
    };
    if (const int code = driveWaves(*started.client, started.prefix, rollout, started.bounds, judge); code != 0)
        return code;
    rollout.state = fleet::RolloutState::Done;
    if (auto put = started.client->put(fleet::rolloutKey(started.prefix), rollout.toJson()); !put) {
        std::cerr << "gwctl fleet upgrade: every host runs the binary, but recording it failed: "
                  << put.error().message << "\n";
        return 3;
    }
    std::cout << "rollout " << rollout.id << " done: every host runs " << options.binary << "\n";
    return 0;
}

int runRollback(const FleetOptions& options) {
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

void addFleetCommands(CLI::App& app, GlobalOptions& global) {
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
    auto add_waves = [options](CLI::App* command) {
        command->add_option("--waves", options->waves, "host counts or shares, from the start: 1,25%,100%")
            ->capture_default_str();
        command->add_option("--gate", options->gate, "how long each wave must be healthy on it before the next")
            ->capture_default_str();
        command->add_option("--timeout", options->timeout, "each wave's bound to become healthy")
            ->capture_default_str();
    };
    auto* status = fleet->add_subcommand("status", "one row per host: version, config revision, state, age");
    located(status);
    status->add_flag("--json", options->json, "print as JSON");
    status->callback([options, &global] {
        options->json = global.json(options->json);
        if (const int code = runStatus(*options); code != 0) throw CLI::RuntimeError(code);
    });
    auto* rollout = fleet->add_subcommand(
        "rollout", "roll a fleet config out in waves; each waits until its hosts serve it for --gate, any "
                   "refusal or --timeout rolls every host back");
    located(rollout);
    rollout->add_option("--config", options->candidate, "the fleet config (YAML) to roll out")->required();
    add_waves(rollout);
    rollout->callback([options] {
        if (const int code = runRollout(*options); code != 0) throw CLI::RuntimeError(code);
    });
    auto* upgrade = fleet->add_subcommand(
        "upgrade", "run a binary on the hosts in waves (each host: upgrade, cutover, commit); a host that "
                   "cannot, or is unhealthy on it, or --timeout returns every host to its binary before");
    located(upgrade);
    upgrade->add_option("--binary", options->binary, "the binary: a path on every host, or an http(s):// URL")
        ->required();
    upgrade->add_option("--sha256", options->sha256, "its SHA-256 (64 hex digits): each host checks it")->required();
    add_waves(upgrade);
    upgrade->callback([options] {
        if (const int code = runUpgrade(*options); code != 0) throw CLI::RuntimeError(code);
    });
    auto* rollback = fleet->add_subcommand("rollback", "end the running rollout: its hosts return to the fleet config (or binary)");
    located(rollback);
    rollback->add_option("--reason", options->reason, "recorded in the rollout")->capture_default_str();
    rollback->callback([options] {
        if (const int code = runRollback(*options); code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace gwctl

// gwctl config validate / diff / apply / rollback / history: the config engine of
// control/config_engine.h from the operator's side. validate and diff of two files work
// offline; the rest ask the running hotgate, which does the validation itself and reports
// every problem back (printed here, exit status 1).
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "outcome.h"
#include "config/config_diff.h"
#include "config/config_loader.h"
#include "config/units.h"
#include "control/messages.h"
#include "control_client.h"

namespace gwctl {
namespace {

using hotgate::control::MessageType;

struct ConfigOptions {
    std::string file;
    std::string other;
    std::string against;
    bool json = false;
    bool wait = false;
};

[[noreturn]] void failWith(const std::string& verb, const std::string& message) {
    gwctl::failWith("config " + verb, message);
}

std::string absolute(const std::string& path) {
    std::error_code ec;
    const auto full = std::filesystem::absolute(path, ec);
    return ec ? path : full.lexically_normal().string();
}

hotgate::ConfigSnapshot loadOrFail(const std::string& verb, const std::string& path) {
    auto config = hotgate::loadConfigFile(path);
    if (!config) {
        std::cerr << hotgate::formatProblems(config.error());
        failWith(verb, path + ": config rejected (" + std::to_string(config.error().size()) + " problem(s))");
    }
    return *config;
}

// One line per change: "routes[api].cluster: a -> b", marked when it needs a new version.
void printChanges(const nlohmann::json& changes, std::ostream& out) {
    for (const auto& c : changes) {
        const std::string kind = c.value("kind", "");
        const std::string path = c.value("path", "");
        if (kind == "set")
            out << path << ": " << c.value("old", "") << " -> " << c.value("new", "");
        else if (kind == "added_item")
            out << path << " += " << c.value("new", "");
        else if (kind == "removed_item")
            out << path << " -= " << c.value("old", "");
        else
            out << path << " " << kind;
        if (c.value("applies", "") == "new_version") out << "   [needs a new version]";
        out << "\n";
    }
}

nlohmann::json request(const GlobalOptions& global, const std::string& verb, MessageType type,
                       const nlohmann::json& payload, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto reply = controlRequest(global.control_socket, type, payload, timeout);
    if (!reply) failReaching("config " + verb, reply.error());
    auto body = reply->payload;
    if (reply->type != MessageType::Ok) {
        for (const auto& problem : body.value("problems", nlohmann::json::array()))
            std::cerr << problem.get<std::string>() << "\n";
        if (body.contains("changes")) printChanges(body["changes"], std::cerr);
        failWith(verb, body.value("message", std::string("refused")));
    }
    return body;
}

int runDiff(const GlobalOptions& global, const ConfigOptions& options) {
    nlohmann::json changes;
    if (!options.against.empty()) {
        if (options.against != "running") failWith("diff", "--against takes only 'running'");
        if (!options.other.empty()) failWith("diff", "with --against running, give one file");
        auto reply = request(global, "diff", MessageType::ConfigDiff,
                             hotgate::control::ConfigDiffRequest{absolute(options.file)}.toJson());
        changes = reply["changes"];
    } else {
        if (options.other.empty()) failWith("diff", "give OLD and NEW files (or NEW --against running)");
        const auto before = loadOrFail("diff", options.file);
        const auto after = loadOrFail("diff", options.other);
        changes = nlohmann::json::array();
        for (const auto& change : hotgate::diffConfigs(*before, *after).changes) changes.push_back(change.toJson());
    }
    if (global.json(options.json))
        std::cout << changes.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    else
        printChanges(changes, std::cout);
    return 0;
}

int runApply(const GlobalOptions& global, const ConfigOptions& options) {
    // With --wait the reply comes after the verification window; allow for the longest one.
    const auto timeout =
        options.wait ? std::chrono::milliseconds(std::chrono::hours(1)) : std::chrono::milliseconds(60'000);
    auto reply = request(global, "apply", MessageType::ConfigApply,
                         hotgate::control::ConfigApplyRequest{absolute(options.file), options.wait}.toJson(), timeout);
    if (global.json(options.json)) {
        std::cout << reply.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return 0;
    }
    printChanges(reply.value("changes", nlohmann::json::array()), std::cout);
    std::cout << reply.value("message", std::string()) << "\n";
    return 0;
}

int runHistory(const GlobalOptions& global, const ConfigOptions& options) {
    auto reply = request(global, "history", MessageType::ConfigHistory, nlohmann::json::object());
    if (global.json(options.json)) {
        std::cout << reply.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return 0;
    }
    for (const auto& e : reply.value("entries", nlohmann::json::array())) {
        const std::time_t seconds = e.value("time_ms", std::int64_t{0}) / 1000;
        char when[32];
        std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&seconds));
        std::cout << e.value("hash", "?") << "  " << when << "  " << e.value("origin", "?") << "  "
                  << e.value("state", "?") << "  " << e.value("source", "") << "\n";
    }
    return 0;
}

}  // namespace

void addConfigCommands(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<ConfigOptions>();
    auto* config = app.add_subcommand("config", "validate, compare and change the running config");
    config->require_subcommand(1);

    auto* validate = config->add_subcommand("validate", "check a config file; print every problem with file:line");
    validate->add_option("FILE", options->file, "config file")->required();
    validate->callback([options] {
        const auto loaded = loadOrFail("validate", options->file);
        std::cout << "config ok: " << options->file << " (hash " << loaded->hash << ")\n";
    });

    auto* diff = config->add_subcommand("diff", "the changes in meaning between two configs, by path");
    diff->add_option("OLD", options->file, "the config before (or the new one, with --against running)")->required();
    diff->add_option("NEW", options->other, "the config after");
    diff->add_option("--against", options->against, "'running': compare FILE with the config hotgate serves");
    diff->add_flag("--json", options->json, "print the changes as JSON");
    diff->callback([&global, options] { runDiff(global, *options); });

    auto* apply = config->add_subcommand("apply", "validate FILE in the running hotgate and swap it in (or upgrade)");
    apply->add_option("FILE", options->file, "config file")->required();
    apply->add_flag("--wait", options->wait, "wait for the verification window's verdict (exit 1 if rolled back)");
    apply->add_flag("--json", options->json, "print the reply as JSON");
    apply->callback([&global, options] { runApply(global, *options); });

    config->add_subcommand("rollback", "return to the previous config snapshot")->callback([&global] {
        auto reply = request(global, "rollback", MessageType::ConfigRollback, nlohmann::json::object());
        std::cout << reply.value("message", std::string()) << "\n";
    });

    auto* history = config->add_subcommand("history", "the kept config snapshots, oldest first");
    history->add_flag("--json", options->json, "print as JSON");
    history->callback([&global, options] { runHistory(global, *options); });
}

}  // namespace gwctl

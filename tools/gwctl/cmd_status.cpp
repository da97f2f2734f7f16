// gwctl status: what the running hotgate says about itself (admin /status), and, when BPF
// steering is in use, the slots and counters of its pinned maps.
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "admin/admin_client.h"
#include "commands.h"
#include "outcome.h"
#include "protection_view.h"
#include "dataplane_status.h"

namespace gwctl {
namespace {

struct StatusOptions {
    bool json = false;
};

int runStatus(const GlobalOptions& global, const StatusOptions& options) {
    auto reply = hotgate::adminGet(global.admin, "/status");
    if (!reply) {
        // The admin port may be elsewhere; the control socket still tells every running version.
        if (!global.json(options.json) && printVersions(global, std::cout)) return 0;
        failWith("status", reply.error().message, ExitStatus::Unreachable);
    }
    if (reply->status != 200) {
        std::cerr << "gwctl status: admin answered " << reply->status << ": " << reply->body;
        return 1;
    }
    if (global.json(options.json)) {
        std::cout << reply->body;
        return 0;
    }
    nlohmann::json status;
    try {
        status = nlohmann::json::parse(reply->body);
    } catch (const std::exception& e) {
        std::cerr << "gwctl status: admin at " << global.admin << " sent a /status that is not JSON: " << e.what()
                  << "\n";
        return 1;
    }
    const auto get = [&](const char* key) { return status.contains(key) ? status[key].dump() : std::string("?"); };
    const auto text = [&](const char* key) {
        return status.contains(key) && status[key].is_string() ? status[key].get<std::string>() : get(key);
    };
    // During an upgrade both versions share the admin port: say which one answered.
    std::ostringstream versions;
    if (printVersions(global, versions))
        std::cout << versions.str() << "admin " << global.admin << " answered from pid " << get("pid") << ":\n";
    std::cout << "version:      " << text("version") << "\n"
              << "pid:          " << get("pid") << "\n"
              << "phase:        " << text("phase") << "\n"
              << "config:       " << text("config_path") << " (hash " << text("config_hash") << ")\n"
              << "mode:         " << text("mode");
    if (status.contains("mode_reason")) std::cout << " (" << text("mode_reason") << ")";
    std::cout << "\n"
              << "workers:      " << get("workers") << "\n"
              << "uptime:       "
              << (status.contains("uptime_seconds") ? std::to_string(status["uptime_seconds"].get<double>()) : "?")
              << " s\n"
              << "connections:  " << get("active_connections") << " open, " << get("in_flight_requests")
              << " requests in flight\n";
    if (status.contains("listeners"))
        for (const auto& listener : status["listeners"])
            std::cout << "listener:     " << listener.value("name", "?") << " on " << listener.value("address", "?")
                      << " (" << listener.value("sockets", 0) << " sockets)\n";
    if (status.contains("upstream_endpoints"))
        for (const auto& endpoint : status["upstream_endpoints"]) {
            std::cout << "endpoint:     " << endpoint.value("cluster", "?") << " " << endpoint.value("endpoint", "?")
                      << " weight " << endpoint.value("weight", 0);
            const unsigned ejected = endpoint.value("ejected_workers", 0u);
            std::cout << (ejected > 0 ? ", EJECTED in " + std::to_string(ejected) + " of " + get("workers") + " workers"
                                      : ", serving")
                      << " (" << endpoint.value("ejections", 0) << " ejections)\n";
        }
    if (status.contains("routes_protection")) std::cout << protectionLines(status["routes_protection"]);
    // The running gateway says where its maps are pinned (its config may move them).
    if (status.value("mode", "") == "bpf")
        printDataplaneStatus(status.value("bpffs_root", global.bpffs_root), std::cout);
    return 0;
}

}  // namespace

void addStatusCommand(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<StatusOptions>();
    auto* status = app.add_subcommand(
        "status",
        "show the running hotgate: version, pid, config, mode, listeners, and every version during an upgrade");
    status->add_flag("--json", options->json, "print the admin /status JSON as is");
    status->callback([&global, options] {
        const int code = runStatus(global, *options);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace gwctl

// hotgate: load and validate the config, open the listeners, start the workers and the admin
// endpoint, and serve until SIGTERM/SIGINT, then drain.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>

#include "admin/admin_server.h"
#include "config/config_loader.h"
#include "observability/logging.h"
#include "proxy/asio.h"
#include "proxy/gateway.h"

namespace {

int serve(hotgate::ConfigSnapshot config) {
    using namespace hotgate;
    auto gateway = Gateway::start(config, HOTGATE_BUILD_VERSION);
    if (!gateway) {
        log::error("cannot start: ", gateway.error().message);
        return 1;
    }
    auto admin = AdminServer::start(config->admin.address, **gateway);
    if (!admin) {
        log::error("cannot start: ", admin.error().message);
        return 1;
    }
    const auto& context = (*gateway)->context();
    for (const auto& listener : (*gateway)->listeners())
        log::info("listener ", listener.name, " on ", listener.address, " (", listener.sockets, " sockets)");
    log::info("hotgate ", context.version, " serving (pid ", ::getpid(), ", ", config->workers, " workers, mode ",
              (*gateway)->dataplane().mode, "), admin on ", config->admin.address.toString());

    asio::io_context signals_io;
    asio::signal_set signals(signals_io, SIGTERM, SIGINT);
    int exit_code = 0;
    signals.async_wait([&](const error_code& ec, int signal) {
        if (ec) return;
        log::info("received ", signal == SIGTERM ? "SIGTERM" : "SIGINT", ": draining (at most ",
                  config->timeouts.drain.count(), "ms)");
        const bool clean = (*gateway)->drain();
        log::info(clean ? "drained, exiting" : "drain deadline reached, exiting");
    });
    signals_io.run();
    (*admin)->stop();
    return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"hotgate: an HTTP gateway whose new versions take over live traffic without a failed request"};
    std::string config_path = "configs/default.yaml";
    std::string check_path;
    std::string log_level = "info";
    bool show_version = false;
    app.add_option("-c,--config", config_path, "config file to serve");
    app.add_option("--check-config", check_path, "validate this config file and exit");
    app.add_option("--log-level", log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
    app.add_flag("--version", show_version, "print the build version and exit");
    CLI11_PARSE(app, argc, argv);

    if (show_version) {
        std::cout << "hotgate " << HOTGATE_BUILD_VERSION << "\n";
        return 0;
    }
    using hotgate::log::Level;
    hotgate::log::setMinimumLevel(log_level == "debug" ? Level::Debug
                                  : log_level == "warn" ? Level::Warn
                                  : log_level == "error" ? Level::Error
                                                         : Level::Info);
    // A client that vanishes mid-write must cost an EPIPE on that connection, not the process.
    std::signal(SIGPIPE, SIG_IGN);

    const std::string& path = check_path.empty() ? config_path : check_path;
    auto config = hotgate::loadConfigFile(path);
    if (!config) {
        std::cerr << hotgate::formatProblems(config.error());
        std::cerr << path << ": config rejected (" << config.error().size() << " problem"
                  << (config.error().size() == 1 ? "" : "s") << ")\n";
        return 1;
    }
    if (!check_path.empty()) {
        std::cout << "config ok: " << path << " (hash " << (*config)->hash << ")\n";
        return 0;
    }
    return serve(*config);
}

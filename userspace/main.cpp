// hotgate: load and validate the config, open (or inherit) the listeners, start the workers,
// the admin endpoint and the control socket, and serve until SIGTERM/SIGINT (drain) or until
// an upgrade commits to a successor (hand connections over, drain, exit).
#include <unistd.h>

#include <csignal>
#include <exception>
#include <functional>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "admin/admin_client.h"
#include "admin/admin_server.h"
#include "common/build_version.h"
#include "config/config_loader.h"
#include "config/schema/schema.h"
#include "control/command_router.h"
#include "control/config_engine.h"
#include "control/control_server.h"
#include "control/handover.h"
#include "control/journal_stream.h"
#include "control/service_manager.h"
#include "control/upgrade_controller.h"
#include "dataplane/steer_loader.h"
#include "fleet/config_document.h"
#include "fleet/etcd_config_source.h"
#include "health/health_service.h"
#include "release/artifact.h"
#include "observability/logging.h"
#include "proxy/asio.h"
#include "telemetry/otlp_exporter.h"
#include "observability/libbpf_log.h"
#include "proxy/gateway.h"
#include "tls/tls_listener.h"

namespace {

using namespace hotgate;

struct Options {
    std::string config_path = "configs/default.yaml";
    std::string control_socket = std::string(control::kDefaultControlSocket);
    std::string upgrade_from;  // successor mode: the running version's control socket
};

// A successor checks that its own admin endpoint answers before it reports ready. The admin
// port is shared with the previous version (SO_REUSEPORT), so it asks by pid until its own
// process answers.
Result<void> checkOwnHealth(const SocketAddress& admin, const std::string& version) {
    const std::string target = "/healthz?version=" + version + "&pid=" + std::to_string(::getpid());
    std::string last = "no answer";
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto reply = adminGet(admin.toString(), target);
        if (reply && reply->status == 200) return {};
        last = reply ? std::to_string(reply->status) + " " + reply->body : reply.error().message;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return fail("own health check on ", admin.toString(), target, " failed: ", last);
}

// Builds how a successor starts from what the running version handed over: in BPF mode a
// slot no live version holds (the same for every listener: versions move in lockstep), in
// takeover mode the inherited listening sockets.
Result<StartPlan> planFromHandover(control::ReceivedHandover& handover, const Config& config) {
    StartPlan plan;
    plan.ticket_keys = handover.about.ticket_keys;
    plan.protection = std::move(handover.protection);
    if (handover.about.mode != DataplaneMode::Bpf) {
        plan.kind = StartPlan::Kind::SuccessorTakeover;
        for (auto& [name, fds] : handover.listeners) plan.inherited[name] = std::move(fds);
        return plan;
    }
    plan.kind = StartPlan::Kind::SuccessorBpf;
    std::optional<std::uint32_t> slot;
    for (const auto& listener : config.listeners) {
        auto free = dataplane::SteerLoader::chooseSlot(listener.name, config.dataplane.bpffs_root);
        if (!free) return fail("no free BPF slot for listener ", listener.name, ": ", free.error().message);
        if (slot && *slot != *free)
            return fail("listeners disagree on the free BPF slot (", *slot, " vs ", *free, " for ", listener.name, ")");
        slot = *free;
    }
    plan.slot = slot.value_or(0);
    if (plan.slot == handover.about.active_slot)
        return fail("BPF slot ", plan.slot, " is the running version's own; no slot is free");
    return plan;
}

// The OTLP exporter of telemetry.otlp (none without an endpoint).
Result<std::unique_ptr<telemetry::OtlpExporter>> startSpanExport(const TelemetryConfig& telemetry,
                                                                const std::string& version) {
    if (telemetry.otlp.endpoint.empty()) return std::unique_ptr<telemetry::OtlpExporter>();
    telemetry::OtlpExporterOptions options;
    options.endpoint = telemetry.otlp.endpoint;
    options.timeout = telemetry.otlp.timeout;
    options.service_name = telemetry.service_name;
    options.service_version = version;
    options.flush_interval = std::chrono::milliseconds(1000);
    auto exporter = telemetry::OtlpExporter::create(options);
    if (!exporter) return fail("telemetry.otlp: ", exporter.error().message);
    return exporter;
}

// The exporter's counters on /metrics as hotgate_telemetry_spans_total{outcome}.
void countSpans(telemetry::OtlpExporter* exporter, const std::string& version, Gateway& gateway) {
    if (!exporter) return;
    gateway.metrics().addCollector([exporter, version] {
        const auto counters = exporter->counters();
        prometheus::MetricFamily spans{"hotgate_telemetry_spans_total",
                                       "Trace spans by what became of them: exported, dropped_queue_full, "
                                       "dropped_export_failed",
                                       prometheus::MetricType::Counter,
                                       {}};
        for (const auto& [outcome, value] : {std::pair{"exported", counters.spans_exported},
                                             std::pair{"dropped_queue_full", counters.spans_dropped_queue_full},
                                             std::pair{"dropped_export_failed", counters.spans_dropped_export_failed}}) {
            prometheus::ClientMetric metric;
            metric.label = {{"outcome", outcome}, {"version", version}};
            metric.counter.value = static_cast<double>(value);
            spans.metric.push_back(metric);
        }
        return std::vector<prometheus::MetricFamily>{std::move(spans)};
    });
}

// A binary rollout's step on this host (docs/fleet.md): the binary fetched into the fleet's
// state directory (a URL) or taken where it is (a path), its SHA-256 checked, then run as the
// new version with the config this one serves; a successor that fails says why before cutover.
Result<std::string> upgradeToFleetBinary(control::UpgradeController& upgrades, const Config& config,
                                         const fleet::BinaryTarget& target) {
    release::ArtifactRequest request;
    request.source = target.source;
    request.expected_sha256 = target.sha256;
    request.bundle_dir = std::filesystem::path(config.config_source.etcd->last_good).parent_path() / "bundles";
    const auto artifact = release::prepareArtifact(request);
    if (!artifact.ok()) return fail(artifact.error->message);
    return upgrades.upgradeTo(artifact.binary.string(), config.source_path, std::chrono::seconds(30));
}

int serve(ConfigSnapshot config, const Options& options, fleet::EtcdConfigSource* fleet_source,
          const fleet::EtcdConfigSource::Start& fleet_start) {
    const std::string version = std::string(buildVersion()) + "/" + config->hash;
    const std::string service_status = "serving " + version + " (pid " + std::to_string(::getpid()) + ")";
    std::shared_ptr<control::PeerLink> predecessor;
    control::Handover from;  // what the predecessor said about itself (its fds are in `plan`)
    StartPlan plan;
    if (!options.upgrade_from.empty()) {
        auto link = control::connectControl(options.upgrade_from);
        if (!link) {
            log::error("cannot start as successor: ", link.error().message);
            return 1;
        }
        predecessor = std::make_shared<control::PeerLink>(std::move(*link));
        auto handover = control::requestHandover(*predecessor, version, config->hash);
        if (!handover) {
            log::error("cannot start as successor: ", handover.error().message);
            return 1;
        }
        log::info("upgrade: taking over from ", handover->about.version, " (",
                  dataplaneModeName(handover->about.mode), " mode)");
        auto planned = planFromHandover(*handover, *config);
        if (!planned) {
            log::error("cannot start as successor: ", planned.error().message);
            (void)predecessor->send(control::Failed{planned.error().message});
            return 1;
        }
        plan = std::move(*planned);
        from = std::move(handover->about);
    }
    // A successor that fails before ready tells its predecessor why, and the predecessor serves on.
    auto failed = [&](const std::string& reason) {
        log::error("cannot start: ", reason);
        if (predecessor) (void)predecessor->send(control::Failed{reason});
        return 1;
    };

    // Spans of upgrades, config applies and sampled requests, when telemetry.otlp.endpoint is
    // set. Made before the gateway, whose workers submit to it, so that it outlives them.
    auto spans = startSpanExport(config->telemetry, version);
    if (!spans) return failed(spans.error().message);
    plan.spans = spans->get();
    auto gateway = Gateway::start(config, buildVersion(), std::move(plan));
    if (!gateway) return failed(gateway.error().message);
    countSpans(spans->get(), version, **gateway);
    // A first version clears what a previous run left beside the control socket; a successor
    // must keep its predecessors' (admin/peer_metrics.h).
    if (!predecessor) removeStalePeerMetrics(options.control_socket);
    auto admin = AdminServer::start(config->admin.address, **gateway, options.control_socket);
    if (!admin) return failed(admin.error().message);
    const auto& context = (*gateway)->context();
    for (const auto& listener : (*gateway)->listeners())
        log::info("listener ", listener.name, " on ", listener.address, " (", listener.sockets, " sockets)");

    asio::io_context main_io;
    auto work = asio::make_work_guard(main_io);
    control::UpgradeController upgrades(
        **gateway, options.control_socket, [&main_io] { asio::post(main_io, [&main_io] { main_io.stop(); }); },
        spans->get());
    control::CommandRouter router(**gateway, upgrades, options.control_socket);
    if (predecessor) {
        if (auto healthy = checkOwnHealth(config->admin.address, version); !healthy)
            return failed(healthy.error().message);
        // In charge (committed, or the predecessor gone), it answers the control socket and is
        // the service's main process (the predecessor already said so at commit; this covers a
        // predecessor that died first).
        auto take_over = [&router, &service_status] {
            auto served = router.listen(/*replace_live=*/true);
            control::service_manager::tookCharge(service_status);
            return served;
        };
        if (auto ready = upgrades.followPredecessor(predecessor, config->admin.address.toString(), from, take_over);
            !ready)
            return failed(ready.error().message);
    } else if (auto served = router.listen(); !served) {
        return failed(served.error().message);
    }
    // Live config changes (gwctl config apply, SIGHUP); socket changes go through `upgrades`.
    control::ConfigEngine config_engine(
        **gateway,
        [&upgrades](const std::string& path) { return upgrades.upgradeToConfig(path, std::chrono::seconds(30)); },
        spans->get());
    router.setConfigEngine(&config_engine);
    if (fleet_source)
        fleet_source->run(fleet_start,
                          {.apply = [&config_engine](const std::string& path,
                                                     const std::string& origin) {
                               return config_engine.apply(path, origin, /*wait=*/false);
                           },
                           .verdict_of = [&config_engine](std::uint64_t verification) {
                               return config_engine.verdictOf(verification);
                           },
                           .version = [&context] { return context.version(); },
                           .health = [&gateway]() -> std::optional<fleet::TcpReading> {
                               const auto reading = (*gateway)->health().ownReading();
                               if (!reading) return std::nullopt;
                               return fleet::TcpReading{reading->handshake_us.p99, reading->handshake_us.count,
                                                        reading->connections, reading->resets_sent};
                           },
                           .upgrade_to = [&upgrades, &context](const fleet::BinaryTarget& target) {
                               return upgradeToFleetBinary(upgrades, *context.config(), target);
                           }});
    std::thread reload;  // SIGHUP's apply: off the signal loop, which must stay responsive
    std::atomic<bool> reloading{false};

    log::info("hotgate ", context.version(), " serving (pid ", ::getpid(), ", ", config->workers, " workers, mode ",
              dataplaneModeName((*gateway)->dataplane().mode), predecessor ? ", successor: ready" : "", "), admin on ",
              config->admin.address.toString());
    // A successor tells the service manager when it takes charge (take_over above), not now.
    if (!predecessor) control::service_manager::ready(service_status);

    asio::signal_set signals(main_io, SIGTERM, SIGINT, SIGHUP);
    signals.add(SIGUSR1);
    std::function<void(const error_code&, int)> on_signal = [&](const error_code& ec, int signal) {
        if (ec) return;
        if (signal == SIGUSR1) {  // logrotate moved the access log files away: write to new ones
            log::info("received SIGUSR1: reopening the access log files");
            (*gateway)->requestAccessLogReopen();
            signals.async_wait(on_signal);
            return;
        }
        if (signal == SIGHUP) {
            // Re-read the file this process was started with and apply it like gwctl config apply.
            if (reloading.exchange(true)) {
                log::warn("received SIGHUP: a reload is still in progress; ignored");
            } else {
                if (reload.joinable()) reload.join();
                const std::string path = config->source_path;
                log::info("received SIGHUP: re-reading ", path);
                reload = std::thread([&config_engine, &reloading, path] {
                    const auto reply = config_engine.apply(path, "SIGHUP", false);
                    if (reply.value("ok", false))
                        log::info("SIGHUP reload: ", reply.value("message", std::string()));
                    else
                        log::warn("SIGHUP reload failed: ", reply.value("message", std::string()));
                    for (const auto& problem : reply.value("problems", nlohmann::json::array()))
                        log::warn("  ", problem.get<std::string>());
                    reloading = false;
                });
            }
            signals.async_wait(on_signal);
            return;
        }
        control::service_manager::stopping();
        log::info("received ", signal == SIGTERM ? "SIGTERM" : "SIGINT", ": draining (at most ",
                  context.config()->timeouts.drain.count(), "ms)");
        const bool clean = (*gateway)->drain();
        log::info(clean ? "drained, exiting" : "drain deadline reached, exiting");
        main_io.stop();
    };
    signals.async_wait(on_signal);
    main_io.run();
    // Served no more: the versions after this one serve its final request counts.
    (*admin)->leaveFinalMetrics();
    if (reload.joinable()) reload.join();
    if (fleet_source) fleet_source->stop();
    router.setConfigEngine(nullptr);
    // A gwctl verify in progress stops waiting for samples: its control thread is joined next.
    (*gateway)->context().shadow_tap.disarm();
    router.stop();
    upgrades.stop();
    config_engine.stop();
    (*admin)->stop();
    return 0;
}

int run(int argc, char** argv) {
    CLI::App app{"hotgate: an HTTP gateway whose new versions take over live traffic without a failed request"};
    Options options;
    std::string check_path;
    std::string log_level = "info";
    bool show_version = false;
    bool print_config_reference = false;
    bool log_to_journal = false;
    app.add_option("-c,--config", options.config_path, "config file to serve");
    app.add_option("--check-config", check_path, "validate this config file and exit");
    app.add_option("--control-socket", options.control_socket, "control socket for gwctl and upgrades")
        ->capture_default_str();
    app.add_option("--upgrade-from", options.upgrade_from,
                   "start as the successor of the hotgate answering on this control socket (gwctl upgrade does this)");
    app.add_option("--log-level", log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
    app.add_flag("--log-to-journal", log_to_journal,
                 "send stdout and stderr to a journal stream of this process's own (gwctl upgrade passes it when "
                 "its own output is the journal, as under hotgate.service)");
    app.add_flag("--version", show_version, "print the build version and exit");
    app.add_flag("--print-config-reference", print_config_reference,
                 "print the reference of every config key (docs/config.md, markdown) and exit");
    CLI11_PARSE(app, argc, argv);

    if (show_version) {
        std::cout << "hotgate " << hotgate::buildVersion() << "\n";
        return 0;
    }
    if (print_config_reference) {
        hotgate::schema::writeReference(std::cout);
        return 0;
    }
    if (log_to_journal) {
        // Without journald the output stays where it was (the starter's), with the reason.
        if (auto sent = hotgate::control::journal::sendOutputToJournal("hotgate"); !sent)
            std::cerr << "hotgate: " << sent.error().message << "; logging to the inherited stderr\n";
    }
    using hotgate::log::Level;
    hotgate::log::setMinimumLevel(log_level == "debug" ? Level::Debug
                                  : log_level == "warn" ? Level::Warn
                                  : log_level == "error" ? Level::Error
                                                         : Level::Info);
    hotgate::log::routeLibbpfMessages();
    // A client that vanishes mid-write must cost an EPIPE on that connection, not the process.
    std::signal(SIGPIPE, SIG_IGN);
    // SIGUSR1 reopens the access log once serving; before that (a successor starting while
    // logrotate signals every process of the service) it must not end the process.
    std::signal(SIGUSR1, SIG_IGN);

    std::string path = check_path.empty() ? options.config_path : check_path;
    // A fleet host's own file names etcd: what it serves is that file merged with etcd's
    // document (docs/fleet.md), or with last_good's when etcd cannot be reached.
    // Checked, a host's file alone is checked merged the same way; a merged file (an upgrade's
    // pre-check) as it is.
    std::unique_ptr<hotgate::fleet::EtcdConfigSource> fleet_source;
    hotgate::fleet::EtcdConfigSource::Start fleet_start;
    // Unreadable: "" here, and the loader says why below.
    const std::string text = hotgate::fleet::readFileText(path).value_or("");
    std::string merged_from;  // for --check-config's answer
    if (check_path.empty() || hotgate::fleet::etcdPart(text).empty()) {
        auto etcd = hotgate::fleet::etcdSourceOf(text, path);
        if (!etcd) {
            std::cerr << etcd.error().message << "\n";
            return 1;
        }
        if (*etcd) {
            fleet_source = std::make_unique<hotgate::fleet::EtcdConfigSource>(**etcd, path, text);
            auto start = fleet_source->prepareStart();
            if (!start) {
                std::cerr << "hotgate: " << start.error().message << "\n";
                return 1;
            }
            fleet_start = *start;
            merged_from = " with " + (start->from_last_good ? (*etcd)->last_good : "etcd " + (*etcd)->prefix + "/config") +
                          " (mod_revision " + std::to_string(start->revision) + ", merged into " + start->path + ")";
            path = start->path;
        }
    }
    auto config = hotgate::loadConfigFile(path);
    if (!config) {
        std::cerr << hotgate::formatProblems(config.error());
        std::cerr << path << ": config rejected (" << config.error().size() << " problem"
                  << (config.error().size() == 1 ? "" : "s") << ")\n";
        return 1;
    }
    if (!check_path.empty()) {
        // Like `nginx -t`: the files the config names must load too, not only the YAML parse.
        if (const auto problems = hotgate::tls::certificateProblems(**config); !problems.empty()) {
            for (const auto& problem : problems) std::cerr << problem << "\n";
            std::cerr << path << ": config rejected (TLS)\n";
            return 1;
        }
        std::cout << "config ok: " << check_path << merged_from << " (hash " << (*config)->hash << ")\n";
        return 0;
    }
    return serve(*config, options, fleet_source.get(), fleet_start);
}

}  // namespace

// Anything that escapes run() is a bug or an unrecoverable condition (out of memory): say what
// it was instead of std::terminate's bare abort.
int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "hotgate: fatal: " << e.what() << "\n";
    } catch (...) {
        std::cerr << "hotgate: fatal: unknown exception\n";
    }
    return 70;  // EX_SOFTWARE
}

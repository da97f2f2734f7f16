#include "proxy/gateway.h"

#include <fcntl.h>
#include <unistd.h>

#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "access_log/access_log_metrics.h"
#include "common/atomic_file.h"
#include "dataplane/capability_probe.h"
#include "dataplane/front_loader.h"
#include "dataplane/steer_loader.h"
#include "health/gateway_pins.h"
#include "health/health_log.h"
#include "health/health_service.h"
#include "observability/logging.h"
#include "proxy/listener.h"
#include "proxy/worker.h"
#include "tls/file_watch.h"
#include "tls/tls_listener.h"

namespace hotgate {
namespace {

// After timeouts.drain, how long the HTTP/2 streams' resets and final GOAWAYs have to go out
// before the workers stop (docs/http2.md).
constexpr std::chrono::milliseconds kStreamCutGrace{250};

}  // namespace

Result<std::unique_ptr<Gateway>> Gateway::start(const ConfigSnapshot& config, const std::string& build_version,
                                                 StartPlan plan) {
    std::unique_ptr<Gateway> gateway(new Gateway());
    const std::string version = build_version + "/" + config->hash;
    gateway->metrics_ = std::make_unique<Metrics>(version, *config);
    auto protection = ProcessProtection::open(std::move(plan.protection), *config);
    if (!protection) return tl::unexpected(protection.error());
    gateway->access_log_ = std::make_unique<AccessLog>(config->workers);
    if (auto opened = gateway->access_log_->open(config->access_log); !opened) return tl::unexpected(opened.error());
    countAccessLogLines(*gateway->access_log_, version, *gateway->metrics_);
    gateway->context_ = std::make_unique<ServingContext>(config, build_version, *gateway->metrics_,
                                                         std::move(*protection), gateway->access_log_.get());
    gateway->context_->spans = plan.spans;
    const unsigned workers = config->workers;
    std::vector<std::vector<ListeningSocket>> per_worker(workers);

    if (plan.kind == StartPlan::Kind::SuccessorTakeover) {
        // The predecessor's sockets: their accept queues are shared, so nothing queued is lost.
        for (std::size_t l = 0; l < config->listeners.size(); ++l) {
            const auto& listener = config->listeners[l];
            auto found = plan.inherited.find(listener.name);
            if (found == plan.inherited.end() || found->second.empty())
                return fail("listener ", listener.name, " (", listener.address.toString(),
                            ") was not handed over by the running version; a new listener needs a fresh start");
            auto& fds = found->second;
            gateway->listeners_.push_back({listener.name, listener.address.toString(), fds.size()});
            // Spread the inherited sockets over our workers; with more workers than sockets,
            // several workers accept on duplicates of one socket.
            for (unsigned w = 0; w < std::max<std::size_t>(workers, fds.size()); ++w) {
                // Duplicates, never the originals: with more workers than sockets a later worker
                // duplicates an earlier one's socket (the originals close with the plan).
                UniqueFd fd(::dup(fds[w % fds.size()].get()));
                if (!fd) return sysError(errno, "listener ", listener.name, ": dup inherited socket");
                per_worker[w % workers].push_back({l, std::move(fd)});
            }
        }
        gateway->dataplane_.reason = "inherited listening sockets from the previous version";
        std::vector<ListenerGroup> none;  // takeover mode: setUpHealth reports why it is unavailable
        gateway->setUpHealth(none, 0);
    } else {
        std::vector<ListenerGroup> groups;
        for (const auto& listener : config->listeners) {
            auto group = ListenerGroup::open(listener, workers);
            if (!group) return tl::unexpected(group.error());
            gateway->listeners_.push_back({group->name(), group->address().toString(), group->size()});
            groups.push_back(std::move(*group));
        }
        const bool first = plan.kind == StartPlan::Kind::First;
        gateway->setUpSteering(groups, first ? 0 : plan.slot, first);
        if (!first && gateway->dataplane_.mode != DataplaneMode::Bpf)
            return fail("cannot join BPF slot ", plan.slot, ": ", gateway->dataplane_.reason);
        gateway->setUpHealth(groups, first ? 0 : plan.slot);
        for (unsigned w = 0; w < workers; ++w)
            for (std::size_t l = 0; l < groups.size(); ++l) per_worker[w].push_back({l, groups[l].take(w)});
    }

    if (auto front = gateway->setUpFront(); !front) return tl::unexpected(front.error());
    // Available or not, /metrics says so (hotgate_health_info).
    const health::HealthService* health = gateway->health_.get();
    gateway->metrics_->addCollector([health] { return health->collect(); });
    gateway->metrics_->addCollector([context = gateway->context_.get(), version] {
        return context->upstream_board.metricFamilies(*context->config(), version);
    });
    gateway->metrics_->addCollector([context = gateway->context_.get(), version] {
        return context->protection->metricFamilies(*context->config(), version);
    });
    if (auto tls = gateway->setUpTls(plan.ticket_keys); !tls) return tl::unexpected(tls.error());

    const bool accepting = plan.kind != StartPlan::Kind::SuccessorTakeover;
    for (unsigned w = 0; w < workers; ++w)
        gateway->workers_.push_back(
            std::make_unique<Worker>(w, *gateway->context_, std::move(per_worker[w]), accepting));
    for (auto& worker : gateway->workers_) worker->start();
    gateway->started_at_ = std::chrono::steady_clock::now();
    return gateway;
}

void Gateway::setUpSteering(std::vector<ListenerGroup>& groups, std::uint32_t slot, bool activate) {
    const auto config_snapshot = context_->config();
    const Config& config = *config_snapshot;
    if (!config.dataplane.steering) {
        dataplane_.reason = "BPF steering turned off in the config (dataplane.steering: off)";
        log::info("BPF steering off by config: listener-fd-takeover mode");
        return;
    }
    const auto support = dataplane::probeSteeringSupport();
    if (!support.usable) {
        dataplane_.reason = support.reason;
        log::warn("BPF steering unavailable (", support.reason, "): running in listener-fd-takeover mode");
        return;
    }
    collectPinGarbage(config.dataplane.bpffs_root);
    dataplane::SteerOptions options;
    options.on_active_slot_change = health::cutoverEventLogger(config.dataplane.bpffs_root);
    for (auto& group : groups) {
        const auto fds = group.fds();
        auto loader = dataplane::SteerLoader::attachListener(group.name(), fds, slot, activate,
                                                             config.dataplane.bpffs_root, options);
        if (!loader) {
            // All or nothing: groups attached so far must not look served by this version.
            for (auto& attached : steering_) (void)attached->pins().clearSlot(attached->slot());
            steering_.clear();
            dataplane_.reason = loader.error().message;
            log::warn("BPF steering failed for listener ", group.name(), " (", loader.error().message,
                      "): running in listener-fd-takeover mode");
            return;
        }
        steering_.push_back(std::move(*loader));
    }
    dataplane_.mode = DataplaneMode::Bpf;
    dataplane_.reason.clear();
    dataplane_.slot = slot;
    log::info("BPF steering attached: ", groups.size(), " listener group(s) in slot ", slot,
              activate ? " (active)" : " (standby until cutover)", " under ", config.dataplane.bpffs_root);
}

void Gateway::collectPinGarbage(const std::string& bpffs_root) {
    auto pruned = health::pruneGatewayPins(bpffs_root);
    if (!pruned) {
        log::warn("pin groups under ", bpffs_root, " not collected: ", pruned.error().message);
        return;
    }
    for (const auto& group : *pruned) {
        if (group.verdict == dataplane::PruneVerdict::kRemoved)
            log::info("removed ", group.what, " ", group.dir, ": nobody serves it any more");
        else if (group.verdict == dataplane::PruneVerdict::kFailed)
            log::warn("could not remove ", group.what, " ", group.dir, " that nobody serves: ", group.error);
    }
}

void Gateway::setUpHealth(std::vector<ListenerGroup>& groups, std::uint32_t slot) {
    const ConfigSnapshot config_snapshot = context_->config();
    const Config& config = *config_snapshot;
    if (!config.health.enabled) {
        health_ = health::HealthService::unavailable("turned off in the config (health.enabled: false)",
                                                     context_->version());
        return;
    }
    if (dataplane_.mode != DataplaneMode::Bpf) {
        health_ = health::HealthService::unavailable(
            "takeover mode (" + dataplane_.reason + "): no version slot to attribute connections to", context_->version());
        return;
    }
    health::Registration r;
    r.bpffs_root = config.dataplane.bpffs_root;
    r.slot = slot;
    r.version = context_->version();
    for (auto& group : groups) {
        r.listener_names.push_back(group.name());
        const auto fds = group.fds();
        r.listener_fds.emplace_back(fds.begin(), fds.end());
    }
    for (const auto& cluster : config.clusters)
        for (const auto& endpoint : cluster.endpoints) {
            const std::pair<std::string, std::uint16_t> key{endpoint.address.ip, endpoint.address.port};
            if (std::find(r.upstreams.begin(), r.upstreams.end(), key) == r.upstreams.end()) r.upstreams.push_back(key);
        }
    r.spikes.threshold_us = static_cast<std::uint64_t>(config.health.spike_threshold.count());
    r.spikes.p99_factor = config.health.spike_p99_factor;
    r.spikes.floor_us = static_cast<std::uint64_t>(config.health.spike_floor.count());
    r.spikes.window = config.health.window;
    health_ = health::HealthService::start(std::move(r));
    if (health_slot* shared = health_->ownSlot())
        metrics_->shareCounters({&shared->requests, &shared->responses_5xx, &shared->rejected});
}

std::optional<std::uint32_t> Gateway::activeSlot() const {
    if (steering_.empty()) return std::nullopt;
    auto control = steering_.front()->pins().readControl();
    if (!control) return std::nullopt;
    return control->active_slot;
}

Result<void> Gateway::setUpFront() {
    const auto config_snapshot = context_->config();
    const auto& config = config_snapshot->dataplane;
    if (config.xdp_interfaces.empty()) return {};
    auto front = dataplane::FrontLoader::load(config.bpffs_root);
    if (!front) return fail("XDP front: ", front.error().message);
    for (const auto& ifname : config.xdp_interfaces) {
        // The link is pinned: a successor's attach replaces the program in place, no gap.
        if (auto attached = (*front)->attach(ifname, dataplane::XdpMode::kAuto); !attached)
            return fail("XDP front on ", ifname, ": ", attached.error().message);
        dataplane_.xdp_interfaces.push_back(ifname);
    }
    log::info("XDP front attached to ", config.xdp_interfaces.size(), " interface(s); deny list under ",
              config.bpffs_root, "/front");
    front_ = std::move(*front);
    return {};
}

Gateway::~Gateway() {
    for (auto& worker : workers_) worker->stop();
    // The health service unregisters (and, as the last gateway, unpins) before the metrics
    // that point into its shared memory go.
    metrics_->shareCounters({});
    health_.reset();
}

std::optional<std::chrono::steady_clock::time_point> Gateway::drainDeadline() const {
    std::lock_guard lock(phase_mutex_);
    return drain_deadline_;
}

bool Gateway::waitForConnectionsToEnd() {
    const auto deadline = std::chrono::steady_clock::now() + context_->config()->timeouts.drain;
    {
        std::lock_guard lock(phase_mutex_);
        drain_deadline_ = deadline;
    }
    while (context_->open_connections.load() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (context_->open_connections.load() > 0) {
        // HTTP/2 streams still open are reset one by one, and given kStreamCutGrace to go out
        // before the connections close with the workers.
        for (auto& worker : workers_) worker->cutHttp2Streams();
        const auto grace = std::chrono::steady_clock::now() + kStreamCutGrace;
        while (context_->open_connections.load() > 0 && std::chrono::steady_clock::now() < grace)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const std::size_t left = context_->open_connections.load();
    for (auto& worker : workers_) worker->stop();
    access_log_->flush();  // every answered request's line is written before the process ends
    if (left > 0) log::warn("drain timeout: ", left, " connection(s) still open were closed");
    return left == 0;
}

bool Gateway::drain() {
    context_->drain_mode.store(DrainMode::Close);
    for (auto& worker : workers_) worker->beginDrain();
    return waitForConnectionsToEnd();
}

bool Gateway::handOffAndDrain(ConnectionHandOff hand_off) {
    context_->hand_off = std::move(hand_off);
    context_->drain_mode.store(DrainMode::HandOff);
    for (auto& worker : workers_) worker->beginDrain();
    return waitForConnectionsToEnd();
}

Result<void> Gateway::openAccessLogs(const Config& next) { return access_log_->open(next.access_log); }

Result<std::size_t> Gateway::reopenAccessLogs() { return access_log_->reopen(); }

void Gateway::requestAccessLogReopen() { access_log_->requestReopen(); }

ServingSnapshotPtr Gateway::publishConfig(ConfigSnapshot config) {
    auto published = context_->publish(std::move(config));
    for (auto& worker : workers_) worker->snapshotPublished();
    return published;
}

void Gateway::setPhase(VersionPhase phase) {
    std::lock_guard lock(phase_mutex_);
    phase_ = phase;
}

VersionPhase Gateway::phase() const {
    if (draining()) return VersionPhase::Draining;
    std::lock_guard lock(phase_mutex_);
    return phase_;
}

void Gateway::pauseAccepting() {
    for (auto& worker : workers_) worker->pauseAccepting();
}

void Gateway::resumeAccepting() {
    for (auto& worker : workers_) worker->resumeAccepting();
}

Result<void> Gateway::steerTo(std::uint32_t slot) {
    if (steering_.empty()) return fail("not in BPF mode: there is no control entry to write");
    for (auto& loader : steering_) {
        // force: the caller has checked the target version is ready; an empty slot only falls
        // back to the kernel's pick, it never drops a connection.
        auto written = loader->pins().cutover(slot, /*force=*/true);
        if (!written) return tl::unexpected(written.error());
    }
    return {};
}

void Gateway::serveShadow(UniqueFd fd) {
    workers_[next_adopter_++ % workers_.size()]->serveShadow(fd.release());
}

Result<void> Gateway::adopt(const std::string& listener, UniqueFd fd, std::string already_read) {
    const auto config_snapshot = context_->config();
    const auto& listeners = config_snapshot->listeners;
    for (std::size_t l = 0; l < listeners.size(); ++l) {
        if (listeners[l].name != listener) continue;
        auto& worker = *workers_[next_adopter_++ % workers_.size()];
        worker.adopt(l, fd.release(), std::move(already_read));
        return {};
    }
    return fail("adopt: this version has no listener named '", listener, "'");
}

std::vector<std::pair<std::string, std::vector<int>>> Gateway::handoverFds() const {
    std::vector<std::pair<std::string, std::vector<int>>> out;
    const auto config_snapshot = context_->config();
    const auto& listeners = config_snapshot->listeners;
    for (std::size_t l = 0; l < listeners.size(); ++l) {
        std::vector<int> fds;
        if (!steering_.empty()) {
            const auto& loader = *steering_[l];
            fds = {loader.programFd(), loader.pins().sockMapFd(), loader.pins().slotMapFd(),
                   loader.pins().ctlMapFd(), loader.pins().statsMapFd()};
        } else {
            for (const auto& worker : workers_)
                for (int fd : worker->listeningFds(l)) fds.push_back(fd);
        }
        out.emplace_back(listeners[l].name, std::move(fds));
    }
    return out;
}

Result<void> Gateway::setUpTls(const std::string& handed_ticket_keys) {
    const ConfigSnapshot config_snapshot = context_->config();
    const Config& config = *config_snapshot;
    // The ring exists even without TLS listeners, so it passes unchanged to the next version.
    Result<tls::TicketKeyRing> ring = !config.tls.session_ticket_keys.empty()
                                          ? tls::TicketKeyRing::loadFile(config.tls.session_ticket_keys)
                                      : !handed_ticket_keys.empty()
                                          ? tls::TicketKeyRing::parse(handed_ticket_keys, "the previous version's keys")
                                          : tls::TicketKeyRing::generate();
    if (!ring) return fail("TLS: ", ring.error().message);
    ticket_keys_ = std::make_unique<tls::TicketKeyStore>(std::move(*ring));
    context_->tls.assign(config.listeners.size(), nullptr);
    for (std::size_t l = 0; l < config.listeners.size(); ++l) {
        const auto& listener = config.listeners[l];
        if (!listener.tls) continue;
        auto created = tls::TlsListener::create(listener.name, *listener.tls, *ticket_keys_,
                                                tls::TlsListener::alpnOf(listener.protocols));
        if (!created) return tl::unexpected(created.error());
        context_->tls[l] = std::move(*created);
    }
    publishCertificateExpiry();
    return watchTlsFiles(config);
}

Result<void> Gateway::watchTlsFiles(const Config& config) {
    // Replaced files are picked up by themselves, like `gwctl certs reload` (and refused the same
    // way when bad: the current certificates keep serving).
    std::set<std::string> files;
    for (const auto& listener : config.listeners)
        if (listener.tls)
            for (const auto& cert : listener.tls->certificates) files.insert({cert.certificate_file, cert.key_file});
    if (!config.tls.session_ticket_keys.empty()) files.insert(config.tls.session_ticket_keys);
    tls_watch_.reset();
    if (files.empty()) return {};
    auto watch = tls::FileWatch::start(files, [this] {
        if (auto reloaded = reloadCertificates(); !reloaded)
            log::warn("TLS: files changed, but the certificate reload was refused; the current certificates keep "
                      "serving: ", reloaded.error().message);
        else
            log::info("TLS: files changed; certificates and ticket keys reloaded");
    });
    if (!watch) return fail("TLS: cannot watch the certificate files: ", watch.error().message);
    tls_watch_ = std::move(*watch);
    return {};
}

Result<void> Gateway::applyTlsConfig(const Config& next) {
    std::lock_guard lock(tls_mutex_);
    const ConfigSnapshot running = context_->config();
    for (std::size_t l = 0; l < running->listeners.size(); ++l) {
        const auto& name = running->listeners[l].name;
        const auto found = std::find_if(next.listeners.begin(), next.listeners.end(),
                                        [&](const ListenerConfig& listener) { return listener.name == name; });
        if (found == next.listeners.end()) continue;  // a listener change goes through a new version anyway
        if (bool(found->tls) != bool(context_->tls[l]))
            return fail("listener ", name, ": turning TLS ", found->tls ? "on" : "off",
                        " needs new listening sockets' worth of state; use gwctl upgrade with this config");
        if (found->tls && !(running->listeners[l].tls == found->tls))
            if (auto reloaded = context_->tls[l]->reload(*found->tls); !reloaded) return reloaded;
    }
    if (next.tls.session_ticket_keys != running->tls.session_ticket_keys && !next.tls.session_ticket_keys.empty()) {
        auto ring = tls::TicketKeyRing::loadFile(next.tls.session_ticket_keys);
        if (!ring) return fail("TLS: ", ring.error().message);
        ticket_keys_->replace(std::move(*ring));
    }
    publishCertificateExpiry();
    // The watch follows the files of the config that serves (the watch thread itself never
    // gets here: it only reloads the same files).
    if (auto watched = watchTlsFiles(next); !watched)
        log::warn("TLS: ", watched.error().message, "; replaced files need gwctl certs reload");
    return {};
}

void Gateway::publishCertificateExpiry() {
    for (const auto& listener : context_->tls) {
        if (!listener) continue;
        for (const auto& cert : listener->status())
            for (const auto& name : cert.names)
                metrics_->setCertificateExpiry(
                    listener->listener(), name,
                    static_cast<double>(std::chrono::system_clock::to_time_t(cert.not_after)));
    }
}

std::string Gateway::ticketKeysForHandover() const { return ticket_keys_->current()->serialize(); }

Result<void> Gateway::reloadCertificates() {
    std::lock_guard lock(tls_mutex_);
    std::string problems;
    for (const auto& listener : context_->tls) {
        if (!listener) continue;
        if (auto reloaded = listener->reload(); !reloaded)
            problems += (problems.empty() ? "" : "\n") + reloaded.error().message;
    }
    // A replaced ticket key file is picked up here too (the way to rotate keys across a fleet).
    if (const std::string& file = context_->config()->tls.session_ticket_keys; !file.empty()) {
        if (auto ring = tls::TicketKeyRing::loadFile(file); !ring)
            problems += (problems.empty() ? "" : "\n") + ring.error().message;
        else
            ticket_keys_->replace(std::move(*ring));
    }
    publishCertificateExpiry();
    if (!problems.empty()) return fail(problems);
    return {};
}

Result<std::vector<std::string>> Gateway::rotateTicketKey() {
    std::lock_guard lock(tls_mutex_);
    tls::TicketKeyRing ring = *ticket_keys_->current();
    if (auto rotated = ring.rotate(); !rotated) return tl::unexpected(rotated.error());
    const std::string& file = context_->config()->tls.session_ticket_keys;
    if (!file.empty()) {
        // A reader never sees half a key file; 0600: these are secrets.
        if (auto written = writeFileAtomically(file, ring.serialize()); !written)
            return tl::unexpected(Error{"session ticket key file: " + written.error().message, written.error().errnum});
    }
    ticket_keys_->replace(ring);
    return ring.fingerprints();
}

nlohmann::json Gateway::tlsStatus() const {
    nlohmann::json listeners = nlohmann::json::array();
    for (const auto& listener : context_->tls) {
        if (!listener) continue;
        nlohmann::json certs = nlohmann::json::array();
        for (const auto& cert : listener->status())
            certs.push_back({{"file", cert.file},
                             {"serial", cert.serial},
                             {"names", cert.names},
                             {"not_after", std::chrono::system_clock::to_time_t(cert.not_after)}});
        listeners.push_back({{"listener", listener->listener()}, {"certificates", certs}});
    }
    return {{"listeners", listeners}, {"session_ticket_keys", ticket_keys_->current()->fingerprints()}};
}

}  // namespace hotgate

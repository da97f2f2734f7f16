#include "proxy/gateway.h"

#include <thread>

#include "dataplane/capability_probe.h"
#include "dataplane/front_loader.h"
#include "dataplane/steer_loader.h"
#include "health/health_service.h"
#include "observability/logging.h"
#include "proxy/listener.h"
#include "proxy/worker.h"

namespace hotgate {

Result<std::unique_ptr<Gateway>> Gateway::start(ConfigSnapshot config, std::string build_version, StartPlan plan) {
    std::unique_ptr<Gateway> gateway(new Gateway());
    const std::string version = build_version + "/" + config->hash;
    gateway->metrics_ = std::make_unique<Metrics>(version, *config);
    gateway->context_ = std::make_unique<ServingContext>(config, version, *gateway->metrics_);
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
                UniqueFd fd(w < fds.size() ? fds[w].release() : ::dup(fds[w % fds.size()].get()));
                if (!fd) return sysError(errno, "listener ", listener.name, ": dup inherited socket");
                per_worker[w % workers].push_back({l, std::move(fd)});
            }
        }
        gateway->dataplane_.reason = "inherited listening sockets from the previous version";
        gateway->health_ = health::HealthService::unavailable(
            "takeover mode (" + gateway->dataplane_.reason + "): no version slot to attribute connections to", version);
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
        if (!first && gateway->dataplane_.mode != "bpf")
            return fail("cannot join BPF slot ", plan.slot, ": ", gateway->dataplane_.reason);
        gateway->setUpHealth(groups, first ? 0 : plan.slot);
        for (unsigned w = 0; w < workers; ++w)
            for (std::size_t l = 0; l < groups.size(); ++l) per_worker[w].push_back({l, groups[l].take(w)});
    }

    if (auto front = gateway->setUpFront(); !front) return tl::unexpected(front.error());
    // Available or not, /metrics says so (hotgate_health_info).
    const health::HealthService* health = gateway->health_.get();
    gateway->metrics_->addCollector([health] { return health->collect(); });

    const bool accepting = plan.kind != StartPlan::Kind::SuccessorTakeover;
    for (unsigned w = 0; w < workers; ++w)
        gateway->workers_.push_back(
            std::make_unique<Worker>(w, *gateway->context_, std::move(per_worker[w]), accepting));
    for (auto& worker : gateway->workers_) worker->start();
    gateway->started_at_ = std::chrono::steady_clock::now();
    return gateway;
}

void Gateway::setUpSteering(std::vector<ListenerGroup>& groups, std::uint32_t slot, bool activate) {
    const Config& config = *context_->config;
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
    for (auto& group : groups) {
        const auto fds = group.fds();
        auto loader = dataplane::SteerLoader::attachListener(group.name(), fds, slot, activate,
                                                             config.dataplane.bpffs_root);
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
    dataplane_.mode = "bpf";
    dataplane_.reason.clear();
    dataplane_.slot = slot;
    log::info("BPF steering attached: ", groups.size(), " listener group(s) in slot ", slot,
              activate ? " (active)" : " (standby until cutover)", " under ", config.dataplane.bpffs_root);
}

void Gateway::setUpHealth(std::vector<ListenerGroup>& groups, std::uint32_t slot) {
    const Config& config = *context_->config;
    if (!config.health.enabled) {
        health_ = health::HealthService::unavailable("turned off in the config (health.enabled: false)",
                                                     context_->version);
        return;
    }
    if (dataplane_.mode != "bpf") {
        health_ = health::HealthService::unavailable(
            "takeover mode (" + dataplane_.reason + "): no version slot to attribute connections to", context_->version);
        return;
    }
    health::Registration r;
    r.bpffs_root = config.dataplane.bpffs_root;
    r.slot = slot;
    r.version = context_->version;
    for (auto& group : groups) {
        r.listener_names.push_back(group.name());
        const auto fds = group.fds();
        r.listener_fds.emplace_back(fds.begin(), fds.end());
    }
    for (const auto& cluster : config.clusters)
        for (const auto& endpoint : cluster.endpoints) {
            const std::pair<std::string, std::uint16_t> key{endpoint.ip, endpoint.port};
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
    const auto& config = context_->config->dataplane;
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
    const auto deadline = std::chrono::steady_clock::now() + context_->config->timeouts.drain;
    {
        std::lock_guard lock(phase_mutex_);
        drain_deadline_ = deadline;
    }
    while (context_->open_connections.load() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::size_t left = context_->open_connections.load();
    for (auto& worker : workers_) worker->stop();
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

void Gateway::setPhase(std::string phase) {
    std::lock_guard lock(phase_mutex_);
    phase_ = std::move(phase);
}

std::string Gateway::phase() const {
    if (draining()) return "draining";
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

Result<void> Gateway::adopt(const std::string& listener, UniqueFd fd, std::string already_read) {
    const auto& listeners = context_->config->listeners;
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
    const auto& listeners = context_->config->listeners;
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

}  // namespace hotgate

#include "proxy/gateway.h"

#include <thread>

#include "dataplane/capability_probe.h"
#include "dataplane/steer_loader.h"
#include "observability/logging.h"
#include "proxy/listener.h"
#include "proxy/worker.h"

namespace hotgate {

Result<std::unique_ptr<Gateway>> Gateway::start(ConfigSnapshot config, std::string build_version) {
    std::unique_ptr<Gateway> gateway(new Gateway());
    const std::string version = build_version + "/" + config->hash;
    gateway->metrics_ = std::make_unique<Metrics>(version, *config);
    gateway->context_ = std::make_unique<ServingContext>(config, version, *gateway->metrics_);

    std::vector<ListenerGroup> groups;
    for (const auto& listener : config->listeners) {
        auto group = ListenerGroup::open(listener, config->workers);
        if (!group) return tl::unexpected(group.error());
        gateway->listeners_.push_back({group->name(), group->address().toString(), group->size()});
        groups.push_back(std::move(*group));
    }

    gateway->setUpSteering(groups);

    for (unsigned w = 0; w < config->workers; ++w) {
        std::vector<UniqueFd> fds;
        for (auto& group : groups) fds.push_back(group.take(w));
        gateway->workers_.push_back(std::make_unique<Worker>(w, *gateway->context_, std::move(fds)));
    }
    for (auto& worker : gateway->workers_) worker->start();
    gateway->started_at_ = std::chrono::steady_clock::now();
    return gateway;
}

void Gateway::setUpSteering(std::vector<ListenerGroup>& groups) {
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
    // The first version to start takes slot 0 and makes it active; hot upgrade picks another.
    constexpr uint32_t kFirstSlot = 0;
    for (auto& group : groups) {
        const auto fds = group.fds();
        auto loader = dataplane::SteerLoader::attachListener(group.name(), fds, kFirstSlot, true,
                                                             config.dataplane.bpffs_root);
        if (!loader) {
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
    log::info("BPF steering attached: ", groups.size(), " listener group(s) in slot ", kFirstSlot, " under ",
              config.dataplane.bpffs_root);
}

Gateway::~Gateway() {
    for (auto& worker : workers_) worker->stop();
}

bool Gateway::drain() {
    context_->draining.store(true);
    for (auto& worker : workers_) worker->beginDrain();
    const auto deadline = std::chrono::steady_clock::now() + context_->config->timeouts.drain;
    while (context_->open_connections.load() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::size_t left = context_->open_connections.load();
    for (auto& worker : workers_) worker->stop();
    if (left > 0) log::warn("drain timeout: ", left, " connection(s) still open were closed");
    return left == 0;
}

}  // namespace hotgate

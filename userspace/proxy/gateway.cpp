#include "proxy/gateway.h"

#include <thread>

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

    gateway->dataplane_.reason = "BPF steering is not set up by this build";

    for (unsigned w = 0; w < config->workers; ++w) {
        std::vector<UniqueFd> fds;
        for (auto& group : groups) fds.push_back(group.take(w));
        gateway->workers_.push_back(std::make_unique<Worker>(w, *gateway->context_, std::move(fds)));
    }
    for (auto& worker : gateway->workers_) worker->start();
    gateway->started_at_ = std::chrono::steady_clock::now();
    return gateway;
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

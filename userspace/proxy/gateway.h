// Gateway: one running version of hotgate: its config snapshot, listener groups, workers and
// metrics. Started whole or not at all; drained and stopped on SIGTERM.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/config.h"
#include "observability/metrics.h"
#include "proxy/serving_context.h"

namespace hotgate {

class ListenerGroup;
class Worker;
namespace dataplane {
class SteerLoader;
}

struct ListenerStatus {
    std::string name;
    std::string address;
    std::size_t sockets = 0;
};

// How new connections reach this version: BPF steering by version slot, or (when BPF cannot
// be used) plain SO_REUSEPORT sockets handed over by fd at upgrade time.
struct DataplaneStatus {
    std::string mode = "takeover";  // "bpf" or "takeover"
    std::string reason;             // why takeover, when it is
};

class Gateway {
public:
    // Opens every listener (one socket per worker), sets up steering when it can, and starts
    // the workers. Fails with the reason (bind errors name listener, address and errno).
    static Result<std::unique_ptr<Gateway>> start(ConfigSnapshot config, std::string build_version);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    // Graceful stop: stop accepting, close idle keep-alive connections, let requests in
    // progress finish, for at most the config's drain timeout. Returns true when every
    // connection ended in time. Blocks; call from a thread that is not a worker.
    bool drain();

    const ServingContext& context() const { return *context_; }
    Metrics& metrics() { return *metrics_; }
    const std::vector<ListenerStatus>& listeners() const { return listeners_; }
    const DataplaneStatus& dataplane() const { return dataplane_; }
    std::chrono::steady_clock::time_point startedAt() const { return started_at_; }
    bool draining() const { return context_->draining.load(); }

private:
    Gateway() = default;
    // Attaches BPF steering to every listener group (slot 0, active) when the kernel and our
    // privileges allow; otherwise records why and stays in takeover mode. All or nothing.
    void setUpSteering(std::vector<ListenerGroup>& groups);

    std::unique_ptr<Metrics> metrics_;
    std::unique_ptr<ServingContext> context_;
    std::vector<std::unique_ptr<dataplane::SteerLoader>> steering_;  // one per listener in BPF mode
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<ListenerStatus> listeners_;
    DataplaneStatus dataplane_;
    std::chrono::steady_clock::time_point started_at_;
};

}  // namespace hotgate

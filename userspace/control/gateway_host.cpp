#include "control/gateway_host.h"

#include "control/service_manager.h"
#include "observability/logging.h"
#include "proxy/gateway.h"

namespace hotgate::control {

GatewayHost::GatewayHost(Gateway& gateway, std::function<void()> request_exit)
    : gateway_(gateway), request_exit_(std::move(request_exit)) {}

GatewayHost::~GatewayHost() { join(); }

void GatewayHost::setControlSocketTakeOver(std::function<Result<void>()> take_over) {
    std::lock_guard lock(mutex_);
    take_over_ = std::move(take_over);
}

DataplaneMode GatewayHost::mode() const { return gateway_.dataplane().mode; }

std::string GatewayHost::version() const { return gateway_.context().version(); }

bool GatewayHost::draining() const { return gateway_.draining(); }

std::chrono::milliseconds GatewayHost::drainTimeout() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(gateway_.context().config()->timeouts.drain);
}

Result<void> GatewayHost::steerTo(std::uint32_t slot) { return gateway_.steerTo(slot); }

Result<void> GatewayHost::steerToOwnSlot() {
    const auto own = gateway_.dataplane().slot;
    if (!own) return fail("not in BPF mode: this version has no slot to steer to");
    return gateway_.steerTo(*own);
}

void GatewayHost::pauseAccepting() { gateway_.pauseAccepting(); }

void GatewayHost::resumeAccepting() { gateway_.resumeAccepting(); }

void GatewayHost::setPhase(VersionPhase phase) { gateway_.setPhase(phase); }

void GatewayHost::handOffDrainAndExit(std::shared_ptr<PeerChannel> peer) {
    std::lock_guard lock(mutex_);
    if (drain_thread_.joinable()) return;  // one hand-off per process: it ends the process
    drain_thread_ = std::thread([this, peer = std::move(peer)] {
        const bool clean =
            gateway_.handOffAndDrain([peer](int fd, const std::string& listener, const std::string& buffered) {
                return peer->sendConnection(fd, listener, buffered);
            });
        log::info(clean ? "upgrade: drained, exiting" : "upgrade: drain deadline reached, exiting");
        request_exit_();
    });
}

void GatewayHost::handServiceTo(int pid) { service_manager::handedTo(pid); }

Result<void> GatewayHost::takeOverControlSocket() {
    std::function<Result<void>()> take_over;
    {
        std::lock_guard lock(mutex_);
        take_over = take_over_;
    }
    if (!take_over) return fail("no control socket to take over (this version serves none)");
    return take_over();
}

void GatewayHost::join() {
    std::thread drain;
    {
        std::lock_guard lock(mutex_);
        drain.swap(drain_thread_);
    }
    if (drain.joinable()) drain.join();
}

}  // namespace hotgate::control

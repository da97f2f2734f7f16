// GatewayHost: the upgrade state machines' VersionHost (upgrade_ports.h) over the real Gateway:
// steering, accepting and phase are the gateway's; handing over and draining runs on a thread
// of its own, which ends the process (through `request_exit`) when the drain is done.
#pragma once

#include <functional>
#include <mutex>
#include <thread>

#include "control/upgrade_ports.h"

namespace hotgate {
class Gateway;
}

namespace hotgate::control {

class GatewayHost final : public VersionHost {
public:
    // `request_exit` is called (from the drain thread) when this process should end.
    GatewayHost(Gateway& gateway, std::function<void()> request_exit);
    ~GatewayHost() override;
    GatewayHost(const GatewayHost&) = delete;
    GatewayHost& operator=(const GatewayHost&) = delete;

    // How a successor takes over the control socket (the command router listening on it).
    void setControlSocketTakeOver(std::function<Result<void>()> take_over);

    DataplaneMode mode() const override;
    std::string version() const override;
    bool draining() const override;
    std::chrono::milliseconds drainTimeout() const override;
    Result<void> steerTo(std::uint32_t slot) override;
    Result<void> steerToOwnSlot() override;
    void pauseAccepting() override;
    void resumeAccepting() override;
    void setPhase(VersionPhase phase) override;
    void handOffDrainAndExit(std::shared_ptr<PeerChannel> peer) override;
    void handServiceTo(int pid) override;
    Result<void> takeOverControlSocket() override;

    // Waits for a hand-off drain in progress, if any.
    void join();

private:
    Gateway& gateway_;
    std::function<void()> request_exit_;
    std::mutex mutex_;
    std::function<Result<void>()> take_over_;
    std::thread drain_thread_;
};

}  // namespace hotgate::control

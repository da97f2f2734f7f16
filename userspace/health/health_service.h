// HealthService: the health profile as one gateway process sees it. Either available (the
// pinned health state is loaded or opened, this process registered its slot, listeners and
// upstream endpoints, and a HealthMonitor runs) or unavailable with the reason (no BPF
// privilege, takeover mode, turned off, a kernel that refuses every variant); it never
// pretends. Renders GET /health and GET /spikes, and the Prometheus families of the profile.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "health/health_loader.h"
#include "health/health_monitor.h"

namespace hotgate::health {

// Who this process is, and what it measures, for registration and for labels.
struct Registration {
    std::string bpffs_root;
    std::uint32_t slot = 0;
    std::string version;
    std::vector<std::string> listener_names;                       // index = listener index in the config
    std::vector<std::vector<int>> listener_fds;                    // listening sockets of each listener
    std::vector<std::pair<std::string, std::uint16_t>> upstreams;  // (ip, port); index = position
    SpikeSettings spikes;
    HealthOptions options;
};

class HealthService {
public:
    // Loads or opens the pins and registers; on any failure the service is unavailable with
    // the error as reason (logged), and serving goes on without it.
    static std::unique_ptr<HealthService> start(Registration registration);
    // `version`: this process's version label, for the families that are not per slot.
    static std::unique_ptr<HealthService> unavailable(std::string reason, std::string version = {});
    // Unregisters this process; the last gateway to leave unpins the programs.
    ~HealthService();
    HealthService(const HealthService&) = delete;
    HealthService& operator=(const HealthService&) = delete;

    bool available() const { return pins_ != nullptr; }
    const std::string& reason() const { return reason_; }
    std::string mode() const;
    // This process's slot entry (shared, mmapped), for the per-request counters; null when
    // unavailable.
    health_slot* ownSlot() const { return pins_ ? &pins_->slot(registration_.slot) : nullptr; }
    HealthPins* pins() const { return pins_.get(); }
    HealthMonitor* monitor() const { return monitor_.get(); }

    // This process's own numbers, for a fleet host's verdict (docs/fleet.md): the handshake
    // quantiles over the monitor's window and the listener connections and resets it sent so
    // far; nullopt when unavailable.
    struct OwnReading {
        Quantiles handshake_us;
        std::uint64_t connections = 0;
        std::uint64_t resets_sent = 0;
    };
    std::optional<OwnReading> ownReading() const;

    // GET /health. `active_slot`: the slot of the steering control entry, when known.
    // `own_phase`: this process's phase (starting, active, draining...).
    nlohmann::json healthJson(std::optional<std::uint32_t> active_slot, const std::string& own_phase) const;
    // GET /spikes?since=&limit=
    nlohmann::json spikesJson(std::uint64_t since, std::size_t limit) const;
    // hotgate_tcp_*, hotgate_health_* families (hotgate_health_info also when unavailable).
    // Per-slot series carry the slot's version; the others (info, events, drops) this
    // process's, like every hotgate family.
    std::vector<prometheus::MetricFamily> collect() const;

private:
    HealthService() = default;
    std::string upstreamLabel(std::uint32_t index) const;
    std::string listenerLabel(std::uint32_t index) const;

    Registration registration_;
    std::string reason_;
    std::unique_ptr<HealthPins> pins_;
    std::unique_ptr<HealthMonitor> monitor_;
};

}  // namespace hotgate::health

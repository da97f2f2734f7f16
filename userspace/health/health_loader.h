// Health loader and pins. loadHealth() loads bpf/health.bpf.c once per bpffs root, choosing
// the best program variant the kernel runs (fentry, then kprobe, then tracepoints: each is
// tried for real, load and attach, and the refusals are kept as the reason), and pins the
// maps and links under <bpffs_root>/health-v3/ (kHealthPinDir), so the programs outlive the process that loaded
// them and later versions only open the pins. HealthPins is one process's handle on them:
// registration of its slot, listeners and upstream endpoints, and typed reads of the maps.
#pragma once

#include <linux/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "health.h"
#include "health/health_log.h"

static_assert(sizeof(health_sk) == 32, "health.h layout changed");
static_assert(sizeof(health_hist) == 8 * (HEALTH_BUCKETS + 1), "health.h layout changed");
static_assert(sizeof(health_endpoint) == 24, "health.h layout changed");

namespace hotgate::health {

const char* modeName(std::uint32_t mode);       // "tracepoint", "kprobe", "fentry"
const char* eventKindName(std::uint32_t kind);  // "handshake", ..., "cutover"

struct HealthOptions {
    // Ring buffer size in bytes (a power of two, at least one page); 0 keeps the object's.
    // Only applies when this call loads the programs. Tests shrink it to fill it on purpose.
    std::uint32_t ring_bytes = 0;
    // The best variant to try (tests and the benchmark force the fallback with it).
    std::uint32_t best_mode = HEALTH_MODE_FENTRY;
};

class HealthPins {
public:
    // Opens the pins under <bpffs_root>/health-v3/ without loading anything. ENOENT when health
    // was never loaded there; another layout is an error naming the map.
    static Result<std::unique_ptr<HealthPins>> open(const std::string& bpffs_root);
    ~HealthPins() = default;
    HealthPins(const HealthPins&) = delete;
    HealthPins& operator=(const HealthPins&) = delete;

    const std::string& directory() const { return dir_; }
    std::uint32_t mode() const { return log_.meta().mode; }
    std::string reason() const;
    EventLog& log() { return log_; }
    health_meta& meta() const { return log_.meta(); }
    // The shared per-slot identity and HTTP counters (mmapped; relaxed atomics).
    health_slot& slot(std::uint32_t slot) const { return slots_.as<health_slot>()[slot]; }

    // Registers this process as the owner of `slot`: its version label and pid in the slot
    // entry (the slot's counters and histograms start from zero when it changes hands to
    // another version), its tgid for upstream
    // attribution. Fails on a slot out of range or a map error.
    Result<void> registerProcess(std::uint32_t slot, const std::string& version, std::uint32_t pid);
    // Marks a listening socket (its receive timeout: see HEALTH_MARK_SECONDS in health.h): the
    // connections it accepts from now on are attributed to (slot, listener index). Marking it
    // again (a later version taking the socket over) replaces the mark.
    Result<void> markListener(int listen_fd, std::uint32_t slot, std::uint32_t index);
    // An upstream endpoint (IP literal, port) whose connections are measured as `index`.
    Result<void> addUpstream(const std::string& ip, std::uint16_t port, std::uint32_t index);
    // Removes this process's tgid. When no registered process is left alive, unpins
    // everything (the programs detach): nothing keeps tracing TCP for a gateway that is gone.
    // Returns true when it unpinned.
    Result<bool> leave(std::uint32_t pid);

    Result<health_hist> readHist(std::uint32_t kind, std::uint32_t slot, std::uint32_t index) const;
    Result<health_counters> readCounters(std::uint32_t row) const;
    Result<void> setThreshold(std::uint32_t event_kind, std::uint64_t threshold_us);
    Result<std::uint64_t> threshold(std::uint32_t event_kind) const;
    int ringFd() const { return ring_.get(); }

private:
    HealthPins() = default;
    // Zeroes the slot's histogram and counter rows (on every CPU).
    Result<void> zeroSlotMaps(std::uint32_t slot);
    // Sets `port` in the side's bitmap of health_ports_map (see HEALTH_PORT_WORDS).
    void setPortBit(std::uint32_t side, std::uint16_t port);

    std::string dir_;
    // sk_map_ is not written here (the programs keep upstream connections' state in it); it is
    // opened so that pins of another build's layout are refused by name.
    UniqueFd sk_map_, procs_map_, endpoints_map_, hist_map_, ctr_map_, thresh_map_, ring_;
    UniqueFd slots_map_, ports_map_;
    MappedArray slots_, ports_;
    EventLog log_;
};

// Loads the programs under `bpffs_root` unless they are already pinned there, then opens
// the pins. Fails when no variant loads and attaches, naming each refusal.
Result<std::unique_ptr<HealthPins>> loadHealth(const std::string& bpffs_root, HealthOptions options = {});

}  // namespace hotgate::health

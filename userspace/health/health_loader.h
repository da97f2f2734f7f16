// Health loader and pins. loadHealth() loads bpf/health.bpf.c once per bpffs root, choosing
// the best program variant the kernel runs (fentry, then kprobe, then tracepoints: each is
// tried for real, load and attach, and the refusals are kept as the reason), and publishes the
// maps and links under <bpffs_root>/health-v3/ (kHealthPinDir) with the pin helper
// (dataplane/bpffs_publish.h), so the programs outlive the process that loaded them and later
// versions only open the pins. HealthPins is one process's handle on them: registration of its
// slot, listeners (VersionMark) and upstream endpoints, and typed reads of the maps.
#pragma once

#include <linux/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "dataplane/bpffs_gc.h"
#include "dataplane/bpffs_lock.h"
#include "dataplane/bpffs_map.h"
#include "health.h"
#include "health/health_log.h"

static_assert(sizeof(health_sk) == 32, "health.h layout changed");
static_assert(sizeof(health_hist) == 8 * (HEALTH_BUCKETS + 1), "health.h layout changed");
static_assert(sizeof(health_endpoint) == 24, "health.h layout changed");

namespace hotgate::health {

const char* modeName(std::uint32_t mode);       // "tracepoint", "kprobe", "fentry"
const char* eventKindName(std::uint32_t kind);  // "handshake", ..., "cutover"

// The maps of health.bpf.c that userspace opens, as this build defines them (pinned sets are
// checked against it before they are reused).
std::span<const dataplane::MapSpec> healthMapSpecs();
// Whether any pid registered in the health set pinned in `dir` is alive; true when unsure.
bool healthSetInUse(const std::string& dir);
// Health sets (any ABI, health-v<N>) as dataplane/bpffs_gc.h collects them.
dataplane::PinGroupKind healthPinKind();

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
    // was never loaded there; another layout is an error naming the map (healthMapSpecs).
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
    // Marks a listening socket with the VersionMark of (slot, listener index) under this set's
    // base: the connections it accepts from now on are attributed to them. Marking it again (a
    // later version taking the socket over) replaces the mark. Fails naming the slot, index or
    // fd; a refused mark leaves the socket's mark as it was.
    Result<void> markListener(int listen_fd, std::uint32_t slot, std::uint32_t index);
    // An upstream endpoint (IP literal, port) whose connections are measured as `index`.
    Result<void> addUpstream(const std::string& ip, std::uint16_t port, std::uint32_t index);
    // Removes this process's tgid. When no registered process is left alive, unpins
    // everything (the programs detach): nothing keeps tracing TCP for a gateway that is gone.
    // Takes the root's lock for that (see dataplane/bpffs_lock.h). Returns true when it unpinned.
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

    std::string root_;
    std::string dir_;
    // sk_map_ is not written here (the programs keep upstream connections' state in it); it is
    // opened so that pins of another build's layout are refused by name.
    UniqueFd sk_map_, procs_map_, endpoints_map_, hist_map_, ctr_map_, thresh_map_, ring_;
    UniqueFd slots_map_, ports_map_;
    MappedArray slots_, ports_;
    EventLog log_;
};

// Loads the programs under `bpffs_root` unless a compatible set is already pinned there (an
// incompatible set nobody uses is replaced), then opens the pins. Takes the root's lock for
// the time of the load. Fails when no variant loads and attaches, naming each refusal, or with
// the reason when an incompatible set is still in use.
Result<std::unique_ptr<HealthPins>> loadHealth(const std::string& bpffs_root, HealthOptions options = {});
// The same under a lock the caller holds, so that it registers (HealthPins::registerProcess)
// before any collector can see the set unclaimed. The root must exist (ensureBpffsRoot).
Result<std::unique_ptr<HealthPins>> loadHealth(const dataplane::PinRootLock& lock, HealthOptions options = {});

}  // namespace hotgate::health

// EventLog: the pinned, shared log of health events (bpf/health.h health_log_map), a ring of
// the last HEALTH_LOG_SIZE events with a shared sequence head in health_meta_map. Every
// version maps both maps; whoever drains the ring buffer, and whoever writes the steering
// control entry (cutover), appends, and every version's /spikes reads the same events.
#pragma once

#include <linux/types.h>  // before health.h: it uses the kernel's __u32/__u64

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "health.h"

static_assert(sizeof(health_event) == 88, "health.h layout changed");
static_assert(sizeof(health_log_entry) == 96, "health.h layout changed");
static_assert(sizeof(health_meta) == 32 + HEALTH_REASON_LEN, "health.h layout changed");
static_assert(sizeof(health_slot) == HEALTH_VERSION_LEN + 40, "health.h layout changed");

namespace hotgate::health {

// <bpffs_root>/health-v<N>/: the pins of one ABI of bpf/health.h and the programs' meaning.
// N goes up with every change a running version of the previous build could not share (v2: the
// version mark replaced the listener's cloned sk_storage tag, and health_sk shrank; v3: accepted
// connections moved from the hash health_conns_map to the array health_accepted_map). A build of
// another ABI loads its own set beside the old one instead of failing to open it, so an upgrade
// across such a change keeps the health profile on both sides (each side sees its own slots).
inline constexpr const char* kHealthPinDir = "health-v3";

// A shared mapping of a BPF_F_MMAPABLE array map. Move-only; unmaps on destruction.
class MappedArray {
public:
    // Maps the whole value area of the array map `fd` read-write (MAP_SHARED).
    static Result<MappedArray> map(int fd, const char* name);
    MappedArray() = default;
    ~MappedArray();
    MappedArray(MappedArray&& other) noexcept;
    MappedArray& operator=(MappedArray&& other) noexcept;
    MappedArray(const MappedArray&) = delete;
    MappedArray& operator=(const MappedArray&) = delete;

    template <typename T>
    T* as() const {
        return static_cast<T*>(addr_);
    }

private:
    void* addr_ = nullptr;
    std::size_t length_ = 0;
};

struct LoggedEvent {
    std::uint64_t seq = 0;
    health_event event{};
};

class EventLog {
public:
    // Maps health_meta_map and health_log_map given by fd (not taken).
    static Result<EventLog> map(int meta_fd, int log_fd);
    // Opens <bpffs_root>/health-v3/health_{meta,log}_map. ENOENT when health is not loaded there.
    static Result<EventLog> open(const std::string& bpffs_root);

    health_meta& meta() const { return *meta_.as<health_meta>(); }

    // Appends one event (its seq is claimed with an atomic fetch_add on the shared head, so
    // appenders in several processes never collide). Returns the event's seq (from 1).
    std::uint64_t append(const health_event& event);

    // Events with seq >= since still in the ring, oldest first, at most `limit`. `next` is the
    // `since` to pass next time. Entries being rewritten concurrently are skipped.
    std::vector<LoggedEvent> read(std::uint64_t since, std::size_t limit, std::uint64_t& next) const;

private:
    MappedArray meta_;
    MappedArray log_;
};

// CLOCK_REALTIME in ms, and CLOCK_MONOTONIC ns (the clock of bpf_ktime_get_ns).
std::uint64_t unixMs();
std::uint64_t monotonicNs();

// Appends a "cutover" event (from_slot -> to_slot) to the event log under `bpffs_root`.
// Fails with ENOENT when health is not loaded there (callers treat that as nothing to do).
Result<void> appendCutoverEvent(const std::string& bpffs_root, std::uint32_t from_slot, std::uint32_t to_slot);

// What whoever writes the steering control entry (the gateway, gwctl) gives
// SteerPins::onActiveSlotChange: appends the cutover event under `bpffs_root`, best effort (the
// health profile may not be loaded, or may be unavailable, there).
std::function<void(std::uint32_t from_slot, std::uint32_t to_slot)> cutoverEventLogger(std::string bpffs_root);

}  // namespace hotgate::health

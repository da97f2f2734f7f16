// SteerLoader: owns the steer skeleton of one listener group in this process, attaches
// steer_select to the group's reuseport group and registers this version's sockets in its
// slot. SteerPins: the group's pinned maps (<root>/<listener>/steer_*_map), which the next
// version, gwctl and the tests open without loading anything.
#pragma once

#include <linux/types.h>  // before steer.h: it uses the kernel's __u32/__u64

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "dataplane/bpffs.h"
#include "dataplane/bpffs_gc.h"
#include "dataplane/bpffs_map.h"
#include "steer.h"

struct steer;  // generated skeleton (steer.skel.h)

static_assert(sizeof(steer_control) == 8 && alignof(steer_control) == 8, "steer.h layout changed");
static_assert(sizeof(steer_slot) == 8, "steer.h layout changed");
static_assert(sizeof(steer_stats) == 8 * STEER_CTR_MAX, "steer.h layout changed");
static_assert(STEER_SLOTS <= 255, "steer_control stores slots in one byte");

namespace hotgate::dataplane {

// The maps of steer.bpf.c as this build defines them (every pinned group is checked against it).
std::span<const MapSpec> steerMapSpecs();

// Whether anyone still serves the listener group pinned in `dir`: a socket in its sockarray, or
// a registered slot owner alive. Reads the maps without assuming this build's layout; anything
// it cannot read counts as in use.
bool steerGroupInUse(const std::string& dir);
// Listener groups as bpffs_gc.h collects them.
PinGroupKind steerGroupKind();

// Called after a write of the control entry moved the active slot (from_slot -> to_slot); the
// gateway and gwctl log a cutover event to the health profile with it.
using ActiveSlotObserver = std::function<void(std::uint32_t from_slot, std::uint32_t to_slot)>;

// The writes of the control entry that need the target slot served (see requireLiveSocket).
enum class SteerWrite { kCutover, kCanary };

// What one slot looks like right now.
struct SlotStatus {
    uint32_t slot = 0;
    steer_slot registered{};     // what the owning loader wrote (count may outlive its process)
    uint32_t live_sockets = 0;   // sockets present in the sockarray now (closed ones are gone)
    bool owner_alive = false;    // registered.owner_pid still exists
    steer_stats stats{};         // counters summed over CPUs
};

// Everything gwctl status shows for one listener group.
struct GroupStatus {
    std::string listener;
    steer_control control{};
    std::vector<SlotStatus> slots;  // STEER_SLOTS entries
    steer_stats invalid_slot{};     // fallbacks for a control entry naming a slot >= STEER_SLOTS
};

// The pinned maps of one listener group. Movable, not copyable; closes its fds.
class SteerPins {
public:
    // Opens the maps pinned in <root>/<listener>/. Fails (ENOENT) when the group was never
    // pinned, or when a pinned map has another layout than this build's steer.h.
    static Result<SteerPins> open(const std::string& bpffs_root, const std::string& listener);
    // Names of the pinned listener groups under `bpffs_root` (sorted; empty if none).
    static Result<std::vector<std::string>> listListeners(const std::string& bpffs_root);

    // Wraps already-open map fds (the loader's own); takes ownership.
    SteerPins(std::string listener, UniqueFd sock_map, UniqueFd slot_map, UniqueFd ctl_map,
              UniqueFd stats_map);
    SteerPins(SteerPins&&) noexcept = default;
    SteerPins& operator=(SteerPins&&) noexcept = default;

    const std::string& listener() const { return listener_; }
    // Every later write that moves the active slot calls `observer` (replacing any earlier one).
    void onActiveSlotChange(ActiveSlotObserver observer) { on_active_slot_change_ = std::move(observer); }

    Result<steer_control> readControl() const;
    // Writes the whole control entry in one bpf_map_update_elem; generation is set to the
    // current one + 1. When the active slot changes, calls the onActiveSlotChange observer.
    // Returns the value written. Fails on a slot >= STEER_SLOTS or a weight above
    // STEER_WEIGHT_MAX.
    Result<steer_control> writeControl(uint32_t active_slot, uint32_t canary_slot,
                                       uint32_t canary_weight_bp);
    // Points new connections at `slot` and ends any canary. Unless `force`, refuses when the
    // slot has no live socket (connections would only fall back to the kernel's pick).
    Result<steer_control> cutover(uint32_t slot, bool force = false);
    // Sends canary_weight_bp / 10000 of new flows to `slot`; the active slot keeps the rest.
    // Weight 0 ends the canary. Unless `force`, refuses a slot with no live socket.
    Result<steer_control> setCanary(uint32_t slot, uint32_t canary_weight_bp, bool force = false);

    // Fails, naming the slot and the listener, when `slot` has no live socket: a `write` to it
    // would only send connections to the kernel's own pick.
    Result<void> requireLiveSocket(uint32_t slot, SteerWrite write) const;

    Result<steer_slot> readSlot(uint32_t slot) const;
    // The lowest slot that no other live process holds with live sockets and that is neither
    // the active nor the canary slot: where a newly started version should register.
    // Fails when every slot is taken.
    Result<uint32_t> freeSlot() const;
    // Number of indexes of `slot` holding a socket right now (stops at 1 when any_only).
    Result<uint32_t> liveSockets(uint32_t slot, bool any_only = false) const;
    // Counters of stats row `row` (a slot, or STEER_STATS_ROW_INVALID), summed over CPUs.
    Result<steer_stats> readStats(uint32_t row) const;
    Result<GroupStatus> status() const;

    // Puts fds at indexes [slot * STEER_MAX_SOCKS, + fds.size()), empties the slot's other
    // indexes, then records {fds.size(), getpid()} as the slot's owner. Fails if fds is empty
    // or too long, if the slot is held by another live process that still has sockets there,
    // or on a map update error (naming the fd, index and errno).
    Result<void> registerSockets(uint32_t slot, std::span<const int> fds);

    // Zeroes the slot's entry (count and owner); its sockets leave the sockarray when closed.
    Result<void> clearSlot(uint32_t slot);

    int sockMapFd() const { return sock_map_.get(); }
    int ctlMapFd() const { return ctl_map_.get(); }
    int slotMapFd() const { return slot_map_.get(); }
    int statsMapFd() const { return stats_map_.get(); }

private:
    std::string listener_;
    ActiveSlotObserver on_active_slot_change_;
    UniqueFd sock_map_;
    UniqueFd slot_map_;
    UniqueFd ctl_map_;
    UniqueFd stats_map_;
};

struct SteerOptions {
    // false loads steer_select as a plain sk_reuseport program (BPF_SK_REUSEPORT_SELECT): the
    // kernel then resets the requests of a closing listener. Only tests and the benchmark
    // use it, to show what migration buys.
    bool migrate = true;
    // Given to the group's SteerPins (see SteerPins::onActiveSlotChange).
    ActiveSlotObserver on_active_slot_change;
};

// Owns the loaded steer skeleton. Non-copyable; nothing stays half-loaded: a failed
// attachListener() releases everything it created except pins that other versions use.
// The group's pin directory is published with the pin helper (bpffs_publish.h) under the
// root's lock, held until this version's sockets are registered.
class SteerLoader {
public:
    // Opens the listener group's pinned state (creating and pinning it if absent), attaches
    // steer_select to the reuseport group through listen_fds[0], registers every fd in `slot`
    // and, if make_active, writes the control entry to point at `slot` (ending any canary).
    // listen_fds must be bound, listening SO_REUSEPORT TCP sockets of one group.
    // A pinned group of another layout is replaced when nobody serves it (steerGroupInUse).
    // Fails on a bad listener name, slot or fd count, a bpffs problem, an incompatible group
    // still in use, a load/attach error or a registration error; the Error names the step and
    // errno.
    static Result<std::unique_ptr<SteerLoader>> attachListener(
        const std::string& listener_name, std::span<const int> listen_fds, uint32_t slot,
        bool make_active, const std::string& bpffs_root = std::string(kDefaultBpffsRoot),
        SteerOptions options = {});

    // The slot a version starting now should take: 0 when the group was never pinned, else
    // SteerPins::freeSlot() (a stale group of dead versions gives 0 again). Fails on
    // unreadable or incompatible pins, or when every slot is held.
    static Result<uint32_t> chooseSlot(const std::string& listener_name,
                                       const std::string& bpffs_root = std::string(kDefaultBpffsRoot));

    ~SteerLoader();
    SteerLoader(const SteerLoader&) = delete;
    SteerLoader& operator=(const SteerLoader&) = delete;

    const std::string& listener() const { return pins_.listener(); }
    uint32_t slot() const { return slot_; }
    const std::string& pinDirectory() const { return pin_dir_; }
    int programFd() const;
    SteerPins& pins() { return pins_; }
    const SteerPins& pins() const { return pins_; }

    // Registers more (or replacement) sockets of this version: the whole slot becomes `fds`.
    Result<void> registerSockets(std::span<const int> fds) { return pins_.registerSockets(slot_, fds); }

private:
    SteerLoader(steer* skel, SteerPins pins, uint32_t slot, std::string pin_dir);

    steer* skel_;
    SteerPins pins_;
    uint32_t slot_;
    std::string pin_dir_;
};

}  // namespace hotgate::dataplane

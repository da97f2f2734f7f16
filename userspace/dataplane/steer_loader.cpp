#include "dataplane/steer_loader.h"

#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <utility>

#include "dataplane/bpffs_publish.h"
#include "dataplane/skeleton_ptr.h"
#include "steer.skel.h"

namespace hotgate::dataplane {

namespace {

// The maps of steer.bpf.c, in the order SteerPins takes them. Checked against pinned maps
// before reuse so an incompatible leftover is reported by name instead of as a bare EINVAL
// from libbpf.
constexpr std::array<MapSpec, 4> kMaps{{
    {"steer_sock_map", BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, sizeof(__u32), sizeof(__u64), STEER_SOCKARRAY_SIZE},
    {"steer_slot_map", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(steer_slot), STEER_SLOTS},
    {"steer_ctl_map", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(steer_control), 1},
    {"steer_stats_map", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(steer_stats), STEER_STATS_ROWS},
}};

using SteerSkeleton = SkeletonPtr<steer, steer__destroy>;

// The kernel's description of an open map; nullopt when it does not give it.
std::optional<bpf_map_info> pinnedMapInfo(const UniqueFd& fd) {
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return std::nullopt;
    return info;
}

// Opens the skeleton, pins (or reuses) every map in `dir` and loads steer_select.
Result<SteerSkeleton> loadSkeleton(const std::string& dir, const SteerOptions& options) {
    SteerSkeleton skel(steer__open());
    if (!skel) return sysError(errno, "open BPF object steer.bpf.o");
    if (!options.migrate) {
        int err = bpf_program__set_expected_attach_type(skel->progs.steer_select,
                                                        BPF_SK_REUSEPORT_SELECT);
        if (err != 0) return sysError(-err, "set plain sk_reuseport attach type on steer_select");
    }
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, skel->obj) {
        std::string path = dir + "/" + bpf_map__name(map);
        if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0)
            return sysError(-err, "set pin path ", path);
    }
    if (int err = steer__load(skel.get()); err != 0)
        return sysError(-err, "load steer_select with maps pinned in ", dir);
    return skel;
}

Result<SteerPins> pinsOf(const steer& skel, const std::string& listener) {
    auto sock = duplicateFd(bpf_map__fd(skel.maps.steer_sock_map), "steer_sock_map");
    if (!sock) return tl::unexpected(sock.error());
    auto slot = duplicateFd(bpf_map__fd(skel.maps.steer_slot_map), "steer_slot_map");
    if (!slot) return tl::unexpected(slot.error());
    auto ctl = duplicateFd(bpf_map__fd(skel.maps.steer_ctl_map), "steer_ctl_map");
    if (!ctl) return tl::unexpected(ctl.error());
    auto stats = duplicateFd(bpf_map__fd(skel.maps.steer_stats_map), "steer_stats_map");
    if (!stats) return tl::unexpected(stats.error());
    return SteerPins(listener, std::move(*sock), std::move(*slot), std::move(*ctl), std::move(*stats));
}

}  // namespace

std::span<const MapSpec> steerMapSpecs() { return kMaps; }

bool steerGroupInUse(const std::string& dir) {
    // A socket still in the sockarray is the surest sign: the kernel removes each one as it
    // closes. The maps are read without assuming this build's layout, so a leftover of another
    // build is judged too; anything that cannot be read counts as in use.
    if (UniqueFd socks(bpf_obj_get((dir + "/steer_sock_map").c_str())); socks) {
        auto info = pinnedMapInfo(socks);
        if (!info || info->key_size != sizeof(std::uint32_t) || info->value_size != sizeof(std::uint64_t)) return true;
        for (std::uint32_t key = 0; key < info->max_entries; ++key) {
            std::uint64_t cookie = 0;
            if (bpf_map_lookup_elem(socks.get(), &key, &cookie) == 0 || errno != ENOENT) return true;
        }
    } else if (errno != ENOENT) {
        return true;
    }
    // No socket: a registered owner still alive may be between closing its listeners and
    // exiting (draining), or between publishing and registering.
    UniqueFd slots(bpf_obj_get((dir + "/steer_slot_map").c_str()));
    if (!slots) return errno != ENOENT;
    auto info = pinnedMapInfo(slots);
    if (!info || info->key_size != sizeof(std::uint32_t) || info->value_size != sizeof(steer_slot)) return true;
    for (std::uint32_t key = 0; key < info->max_entries; ++key) {
        steer_slot slot{};
        if (bpf_map_lookup_elem(slots.get(), &key, &slot) != 0) return true;
        if (pidAlive(slot.owner_pid)) return true;
    }
    return false;
}

PinGroupKind steerGroupKind() {
    return PinGroupKind{
        "steer listener group",
        [](const std::string& dir) {
            return pinExists(dir + "/steer_ctl_map") || pinExists(dir + "/steer_sock_map") ||
                   pinExists(dir + "/steer_slot_map");
        },
        steerGroupInUse,
    };
}

// ---------------------------------------------------------------------------------------------
// SteerPins

SteerPins::SteerPins(std::string listener, UniqueFd sock_map, UniqueFd slot_map, UniqueFd ctl_map,
                     UniqueFd stats_map)
    : listener_(std::move(listener)),
      sock_map_(std::move(sock_map)),
      slot_map_(std::move(slot_map)),
      ctl_map_(std::move(ctl_map)),
      stats_map_(std::move(stats_map)) {}

Result<SteerPins> SteerPins::open(const std::string& bpffs_root, const std::string& listener) {
    if (auto r = validatePinName(listener); !r) return tl::unexpected(r.error());
    auto fds = openPinnedMaps(pinDir(bpffs_root, listener), kMaps);
    if (!fds) return tl::unexpected(fds.error());
    auto& maps = *fds;
    return SteerPins(listener, std::move(maps[0]), std::move(maps[1]), std::move(maps[2]), std::move(maps[3]));
}

Result<std::vector<std::string>> SteerPins::listListeners(const std::string& bpffs_root) {
    std::vector<std::string> names;
    DIR* d = ::opendir(bpffs_root.c_str());
    if (!d) {
        if (errno == ENOENT) return names;
        return sysError(errno, "list bpffs root ", bpffs_root);
    }
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.empty() || name[0] == '.' || name[0] == '_') continue;  // ".", "..", temp dirs
        if (pinExists(bpffs_root + "/" + name + "/steer_ctl_map")) names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

Result<steer_control> SteerPins::readControl() const {
    __u32 key = 0;
    steer_control value{};
    if (bpf_map_lookup_elem(ctl_map_.get(), &key, &value) != 0)
        return sysError(errno, "read steer_ctl_map of listener ", listener_);
    return value;
}

Result<steer_control> SteerPins::writeControl(uint32_t active_slot, uint32_t canary_slot,
                                              uint32_t canary_weight_bp) {
    if (active_slot >= STEER_SLOTS)
        return fail("active slot ", active_slot, " out of range (0..", STEER_SLOTS - 1, ")");
    if (canary_slot >= STEER_SLOTS)
        return fail("canary slot ", canary_slot, " out of range (0..", STEER_SLOTS - 1, ")");
    if (canary_weight_bp > STEER_WEIGHT_MAX)
        return fail("canary weight ", canary_weight_bp, " bp above ", STEER_WEIGHT_MAX, " bp");
    auto current = readControl();
    if (!current) return current;
    steer_control next{};
    next.active_slot = static_cast<__u8>(active_slot);
    next.canary_slot = static_cast<__u8>(canary_slot);
    next.canary_weight_bp = static_cast<__u16>(canary_weight_bp);
    next.generation = current->generation + 1;
    __u32 key = 0;
    // The cutover itself: one update of one 8-byte value.
    if (bpf_map_update_elem(ctl_map_.get(), &key, &next, BPF_ANY) != 0)
        return sysError(errno, "write steer_ctl_map of listener ", listener_);
    if (on_active_slot_change_ && next.active_slot != current->active_slot)
        on_active_slot_change_(current->active_slot, next.active_slot);
    return next;
}

Result<steer_control> SteerPins::cutover(uint32_t slot, bool force) {
    if (slot >= STEER_SLOTS) return fail("slot ", slot, " out of range (0..", STEER_SLOTS - 1, ")");
    if (!force) {
        if (auto served = requireLiveSocket(slot, SteerWrite::kCutover); !served) return tl::unexpected(served.error());
    }
    return writeControl(slot, slot, 0);
}

Result<void> SteerPins::requireLiveSocket(uint32_t slot, SteerWrite write) const {
    auto live = liveSockets(slot, /*any_only=*/true);
    if (!live) return tl::unexpected(live.error());
    if (*live > 0) return {};
    if (write == SteerWrite::kCanary)
        return fail("slot ", slot, " of listener ", listener_, " has no live socket; refusing canary");
    return fail("slot ", slot, " of listener ", listener_,
                " has no live socket; refusing cutover (new connections would only "
                "fall back to the kernel's pick)");
}

Result<steer_control> SteerPins::setCanary(uint32_t slot, uint32_t canary_weight_bp, bool force) {
    if (slot >= STEER_SLOTS) return fail("slot ", slot, " out of range (0..", STEER_SLOTS - 1, ")");
    auto current = readControl();
    if (!current) return current;
    if (!force && canary_weight_bp > 0) {
        if (auto served = requireLiveSocket(slot, SteerWrite::kCanary); !served) return tl::unexpected(served.error());
    }
    return writeControl(current->active_slot, slot, canary_weight_bp);
}

Result<steer_slot> SteerPins::readSlot(uint32_t slot) const {
    __u32 key = slot;
    steer_slot value{};
    if (bpf_map_lookup_elem(slot_map_.get(), &key, &value) != 0)
        return sysError(errno, "read steer_slot_map[", slot, "] of listener ", listener_);
    return value;
}

Result<void> SteerPins::clearSlot(uint32_t slot) {
    steer_slot value{};
    __u32 key = slot;
    if (bpf_map_update_elem(slot_map_.get(), &key, &value, BPF_ANY) != 0)
        return sysError(errno, "clear steer_slot_map[", slot, "] of listener ", listener_);
    return {};
}

Result<uint32_t> SteerPins::freeSlot() const {
    auto control = readControl();
    if (!control) return tl::unexpected(control.error());
    const uint32_t self = static_cast<uint32_t>(::getpid());
    for (uint32_t slot = 0; slot < STEER_SLOTS; ++slot) {
        auto info = readSlot(slot);
        if (!info) return tl::unexpected(info.error());
        auto live = liveSockets(slot, /*any_only=*/true);
        if (!live) return tl::unexpected(live.error());
        const bool held = *live > 0 && info->owner_pid != self && pidAlive(info->owner_pid);
        // A slot that still serves (or is about to) is never reused, whoever owns it.
        const bool routed = *live > 0 && (slot == control->active_slot ||
                                          (control->canary_weight_bp > 0 && slot == control->canary_slot));
        if (!held && !routed) return slot;
    }
    return fail("every slot of listener ", listener_, " is held by a live version (", STEER_SLOTS,
                " slots)");
}

Result<uint32_t> SteerPins::liveSockets(uint32_t slot, bool any_only) const {
    if (slot >= STEER_SLOTS) return fail("slot ", slot, " out of range (0..", STEER_SLOTS - 1, ")");
    uint32_t live = 0;
    for (__u32 i = 0; i < STEER_MAX_SOCKS; ++i) {
        __u32 key = slot * STEER_MAX_SOCKS + i;
        __u64 cookie = 0;
        if (bpf_map_lookup_elem(sock_map_.get(), &key, &cookie) == 0) {
            if (++live == 1 && any_only) break;
        } else if (errno != ENOENT) {
            return sysError(errno, "read steer_sock_map[", key, "] of listener ", listener_);
        }
    }
    return live;
}

Result<steer_stats> SteerPins::readStats(uint32_t row) const {
    __u32 key = row;
    return sumPerCpu<steer_stats>(stats_map_.get(), &key,
                                  "read steer_stats_map[" + std::to_string(row) + "] of listener " + listener_);
}

Result<GroupStatus> SteerPins::status() const {
    GroupStatus out;
    out.listener = listener_;
    auto control = readControl();
    if (!control) return tl::unexpected(control.error());
    out.control = *control;
    for (uint32_t slot = 0; slot < STEER_SLOTS; ++slot) {
        SlotStatus s;
        s.slot = slot;
        auto registered = readSlot(slot);
        if (!registered) return tl::unexpected(registered.error());
        s.registered = *registered;
        auto live = liveSockets(slot);
        if (!live) return tl::unexpected(live.error());
        s.live_sockets = *live;
        s.owner_alive = pidAlive(s.registered.owner_pid);
        auto stats = readStats(slot);
        if (!stats) return tl::unexpected(stats.error());
        s.stats = *stats;
        out.slots.push_back(s);
    }
    auto invalid = readStats(STEER_STATS_ROW_INVALID);
    if (!invalid) return tl::unexpected(invalid.error());
    out.invalid_slot = *invalid;
    return out;
}

Result<void> SteerPins::registerSockets(uint32_t slot, std::span<const int> fds) {
    if (slot >= STEER_SLOTS) return fail("slot ", slot, " out of range (0..", STEER_SLOTS - 1, ")");
    if (fds.empty()) return fail("no socket to register in slot ", slot, " of listener ", listener_);
    if (fds.size() > STEER_MAX_SOCKS)
        return fail(fds.size(), " sockets for slot ", slot, " of listener ", listener_,
                    ": at most ", STEER_MAX_SOCKS, " per slot");

    auto current = readSlot(slot);
    if (!current) return tl::unexpected(current.error());
    const uint32_t self = static_cast<uint32_t>(::getpid());
    if (current->owner_pid != 0 && current->owner_pid != self && pidAlive(current->owner_pid)) {
        auto live = liveSockets(slot);
        if (!live) return tl::unexpected(live.error());
        if (*live > 0)
            return fail("slot ", slot, " of listener ", listener_, " is held by live pid ",
                        current->owner_pid, " with ", *live, " sockets");
    }

    const __u32 base = slot * STEER_MAX_SOCKS;
    for (size_t i = 0; i < fds.size(); ++i) {
        __u32 key = base + static_cast<__u32>(i);
        // A socket already stored at this index stays (re-inserting it would fail with EBUSY:
        // a socket can sit at only one index); compare socket cookies to tell.
        __u64 cookie = 0;
        socklen_t len = sizeof(cookie);
        __u64 stored = 0;
        if (::getsockopt(fds[i], SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0 &&
            bpf_map_lookup_elem(sock_map_.get(), &key, &stored) == 0 && stored == cookie)
            continue;
        __u64 value = static_cast<__u64>(fds[i]);
        if (bpf_map_update_elem(sock_map_.get(), &key, &value, BPF_ANY) != 0)
            return sysError(errno, "register fd ", fds[i], " at index ", key,
                            " of steer_sock_map (listener ", listener_, ", slot ", slot, ")");
    }
    for (__u32 i = static_cast<__u32>(fds.size()); i < STEER_MAX_SOCKS; ++i) {
        __u32 key = base + i;
        if (bpf_map_delete_elem(sock_map_.get(), &key) != 0 && errno != ENOENT)
            return sysError(errno, "clear index ", key, " of steer_sock_map (listener ",
                            listener_, ", slot ", slot, ")");
    }
    steer_slot value{static_cast<__u32>(fds.size()), self};
    __u32 key = slot;
    if (bpf_map_update_elem(slot_map_.get(), &key, &value, BPF_ANY) != 0)
        return sysError(errno, "write steer_slot_map[", slot, "] of listener ", listener_);
    return {};
}

// ---------------------------------------------------------------------------------------------
// SteerLoader

SteerLoader::SteerLoader(steer* skel, SteerPins pins, uint32_t slot, std::string pin_dir)
    : skel_(skel), pins_(std::move(pins)), slot_(slot), pin_dir_(std::move(pin_dir)) {}

SteerLoader::~SteerLoader() {
    // Maps stay pinned for the other versions; the reuseport group keeps its reference to
    // the program until another version attaches its own or the group's last socket closes.
    steer__destroy(skel_);
}

Result<uint32_t> SteerLoader::chooseSlot(const std::string& listener_name,
                                         const std::string& bpffs_root) {
    if (auto r = validatePinName(listener_name); !r) return tl::unexpected(r.error());
    if (!pinExists(pinDir(bpffs_root, listener_name))) return 0u;  // first version: slot 0
    auto pins = SteerPins::open(bpffs_root, listener_name);
    if (!pins) return tl::unexpected(pins.error());
    return pins->freeSlot();
}

int SteerLoader::programFd() const { return bpf_program__fd(skel_->progs.steer_select); }

Result<std::unique_ptr<SteerLoader>> SteerLoader::attachListener(
    const std::string& listener_name, std::span<const int> listen_fds, uint32_t slot,
    bool make_active, const std::string& bpffs_root, SteerOptions options) {
    if (auto r = validatePinName(listener_name); !r) return tl::unexpected(r.error());
    if (listener_name == "front") return fail("listener name 'front' is reserved for the XDP front");
    if (slot >= STEER_SLOTS) return fail("slot ", slot, " out of range (0..", STEER_SLOTS - 1, ")");
    if (listen_fds.empty()) return fail("no listening socket given for listener ", listener_name);
    if (listen_fds.size() > STEER_MAX_SOCKS)
        return fail(listen_fds.size(), " sockets for listener ", listener_name, ": at most ",
                    STEER_MAX_SOCKS, " per slot");
    if (auto r = ensureBpffsRoot(bpffs_root); !r) return tl::unexpected(r.error());

    // Held until this version's sockets are registered: from then on the group is served, and
    // no collector (bpffs_gc.h) takes it for garbage.
    auto lock = PinRootLock::acquire(bpffs_root);
    if (!lock) return tl::unexpected(lock.error());
    SteerSkeleton skel;
    const PinSetRecipe recipe{
        listener_name,
        kMaps,
        [&skel, &options](const std::string& dir) -> Result<void> {
            auto loaded = loadSkeleton(dir, options);
            if (!loaded) return tl::unexpected(loaded.error());
            skel = std::move(*loaded);
            return {};
        },
        steerGroupInUse,
    };
    auto published = publishPinSet(*lock, recipe);
    if (!published) return tl::unexpected(published.error());
    if (published->origin == PinSetOrigin::kExisting) {
        // An earlier version (alive or not) pinned the group: load against its maps.
        auto loaded = loadSkeleton(published->dir, options);
        if (!loaded) return tl::unexpected(loaded.error());
        skel = std::move(*loaded);
    }

    auto pins = pinsOf(*skel, listener_name);
    if (!pins) return tl::unexpected(pins.error());
    pins->onActiveSlotChange(std::move(options.on_active_slot_change));
    if (auto r = pins->registerSockets(slot, listen_fds); !r) return tl::unexpected(r.error());

    int prog_fd = bpf_program__fd(skel->progs.steer_select);
    if (::setsockopt(listen_fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog_fd,
                     sizeof(prog_fd)) != 0) {
        int err = errno;
        // Undo the registration: the slot must not look served by a version that failed.
        for (__u32 i = 0; i < listen_fds.size(); ++i) {
            __u32 key = slot * STEER_MAX_SOCKS + i;
            bpf_map_delete_elem(pins->sockMapFd(), &key);
        }
        (void)pins->clearSlot(slot);
        return sysError(err, "attach steer_select to listener fd ", listen_fds[0],
                        " (listener ", listener_name, ")");
    }

    // Last, after every check has passed: the one write that sends traffic here.
    if (make_active) {
        if (auto written = pins->writeControl(slot, slot, 0); !written)
            return tl::unexpected(written.error());
    }
    return std::unique_ptr<SteerLoader>(
        new SteerLoader(skel.release(), std::move(*pins), slot, published->dir));
}

}  // namespace hotgate::dataplane

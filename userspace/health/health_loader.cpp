#include "health/health_loader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>

#include "dataplane/bpffs.h"
#include "dataplane/bpffs_publish.h"
#include "dataplane/skeleton_ptr.h"
#include "health.skel.h"
#include "health/version_mark.h"

namespace hotgate::health {

namespace {

using dataplane::kAnyMaxEntries;
using dataplane::MapSpec;
using HealthSkeleton = dataplane::SkeletonPtr<::health, health__destroy>;

// The maps of health.bpf.c that userspace opens, in the order HealthPins::open takes them.
// The others (the programs' own per-connection state) are private to the programs; a change
// to them bumps kHealthPinDir.
enum MapIndex { kSk, kProcs, kEndpoints, kHist, kCtr, kThresh, kEvents, kSlots, kPorts, kMeta, kLog, kMapCount };
constexpr std::array<MapSpec, kMapCount> kMaps{{
    {"health_sk_map", BPF_MAP_TYPE_SK_STORAGE, sizeof(int), sizeof(health_sk), 0, BPF_F_NO_PREALLOC},
    {"health_procs_map", BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(__u32), 64},
    {"health_endpoints_map", BPF_MAP_TYPE_HASH, sizeof(health_endpoint), sizeof(__u32), 256},
    {"health_hist_map", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(health_hist), HEALTH_HIST_ROWS},
    {"health_ctr_map", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(health_counters), HEALTH_CTR_ROWS},
    {"health_thresh_map", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64), HEALTH_EV_MAX},
    // Its size is a load-time option (HealthOptions::ring_bytes).
    {"health_events", BPF_MAP_TYPE_RINGBUF, 0, 0, kAnyMaxEntries},
    {"health_slots_map", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(health_slot), HEALTH_SLOTS, BPF_F_MMAPABLE},
    {"health_ports_map", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64), HEALTH_SIDES * HEALTH_PORT_WORDS,
     BPF_F_MMAPABLE},
    {"health_meta_map", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(health_meta), 1, BPF_F_MMAPABLE},
    {"health_log_map", BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(health_log_entry), HEALTH_LOG_SIZE, BPF_F_MMAPABLE},
}};

// The programs of each variant, beyond the tracepoint programs every variant loads.
std::vector<bpf_program*> variantPrograms(::health& skel, std::uint32_t mode) {
    switch (mode) {
        case HEALTH_MODE_FENTRY:
            return {skel.progs.health_rtt_fentry, skel.progs.health_connect_fentry};
        case HEALTH_MODE_KPROBE:
            return {skel.progs.health_rtt_kprobe, skel.progs.health_connect_kprobe};
        default:
            return {skel.progs.health_rtt_tp};
    }
}

std::vector<bpf_program*> allVariantPrograms(::health& skel) {
    return {skel.progs.health_rtt_fentry, skel.progs.health_connect_fentry, skel.progs.health_rtt_kprobe,
            skel.progs.health_connect_kprobe, skel.progs.health_rtt_tp};
}

// The settings a load needs beyond the variant, decided once for all variant attempts.
struct LoadSettings {
    std::uint64_t hz = 0;            // the kernel's HZ (VersionMark::measureKernelHz)
    std::uint64_t mark_seconds = 0;  // the version-mark base (VersionMark::newBase)
};

// Loads the object with `mode`'s variant programs turned on, maps pinned in `dir`, and
// attaches every program with its link pinned in `dir`. On failure nothing of this attempt
// stays attached (maps pinned in `dir` stay, for the next attempt to reuse).
Result<void> loadVariant(const std::string& dir, std::uint32_t mode, const HealthOptions& options,
                         const LoadSettings& settings) {
    HealthSkeleton skel(health__open());
    if (!skel) return sysError(errno, "open BPF object health.bpf.o");
    for (bpf_program* prog : allVariantPrograms(*skel)) bpf_program__set_autoload(prog, false);
    for (bpf_program* prog : variantPrograms(*skel, mode)) bpf_program__set_autoload(prog, true);
    skel->rodata->health_conns_by_address = mode == HEALTH_MODE_KPROBE;
    skel->rodata->health_hz = settings.hz;
    skel->rodata->health_mark_base = settings.mark_seconds * settings.hz;
    if (options.ring_bytes != 0) {
        if (int err = bpf_map__set_max_entries(skel->maps.health_events, options.ring_bytes); err != 0)
            return sysError(-err, "set ring buffer size ", options.ring_bytes);
    }
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, skel->obj) {
        // .rodata holds this attempt's load-time settings, frozen at load: pinning it would
        // make the next attempt (another variant) reuse the previous one's settings.
        if (bpf_map__is_internal(map)) continue;
        const std::string path = dir + "/" + bpf_map__name(map);
        if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0) return sysError(-err, "set pin path ", path);
    }
    if (int err = health__load(skel.get()); err != 0) return sysError(-err, "load");
    std::vector<bpf_link*> links;
    auto destroyLinks = [&links] {
        for (bpf_link* link : links) {
            bpf_link__unpin(link);
            bpf_link__destroy(link);
        }
    };
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, skel->obj) {
        if (!bpf_program__autoload(prog)) continue;
        bpf_link* link = bpf_program__attach(prog);
        if (!link) {
            const int err = errno;
            destroyLinks();
            return sysError(err, "attach ", bpf_program__name(prog));
        }
        links.push_back(link);
        const std::string path = dir + "/link_" + bpf_program__name(prog);
        if (int err = bpf_link__pin(link, path.c_str()); err != 0) {
            destroyLinks();
            return sysError(-err, "pin link ", path);
        }
    }
    // The pinned links keep the programs attached; this process's references go.
    for (bpf_link* link : links) bpf_link__destroy(link);
    return {};
}

// Loads the programs into `dir` (a fresh pin directory): the best variant that loads and
// attaches, then the shared meta entry (mode, mark base, why better variants were refused).
Result<void> loadInto(const std::string& dir, const HealthOptions& options) {
    auto hz = VersionMark::measureKernelHz();
    if (!hz) return tl::unexpected(hz.error());
    const LoadSettings settings{*hz, VersionMark::newBase()};
    std::string refused;
    std::optional<std::uint32_t> chosen;
    for (int mode = static_cast<int>(std::min<std::uint32_t>(options.best_mode, HEALTH_MODE_FENTRY));
         mode >= HEALTH_MODE_TRACEPOINT; --mode) {
        auto loaded = loadVariant(dir, static_cast<std::uint32_t>(mode), options, settings);
        if (loaded) {
            chosen = static_cast<std::uint32_t>(mode);
            break;
        }
        refused += std::string(refused.empty() ? "" : "; ") + modeName(static_cast<std::uint32_t>(mode)) +
                   " unavailable (" + loaded.error().message + ")";
    }
    if (!chosen) return fail("health programs: no variant loads and attaches (", refused, ")");
    auto meta = dataplane::openPinnedMap(dir, kMaps[kMeta]);
    if (!meta) return tl::unexpected(meta.error());
    auto mapped = MappedArray::map(meta->get(), "health_meta_map");
    if (!mapped) return tl::unexpected(mapped.error());
    health_meta& m = *mapped->as<health_meta>();
    m.mode = *chosen;
    m.mark_seconds = settings.mark_seconds;
    m.load_ms = unixMs();
    std::snprintf(m.reason, sizeof(m.reason), "%s", refused.c_str());
    return {};
}

}  // namespace

const char* modeName(std::uint32_t mode) {
    switch (mode) {
        case HEALTH_MODE_FENTRY:
            return "fentry";
        case HEALTH_MODE_KPROBE:
            return "kprobe";
        default:
            return "tracepoint";
    }
}

const char* eventKindName(std::uint32_t kind) {
    switch (kind) {
        case HEALTH_EV_HANDSHAKE:
            return "handshake";
        case HEALTH_EV_CONNECT:
            return "connect";
        case HEALTH_EV_SRTT:
            return "srtt";
        case HEALTH_EV_RESET_SENT:
            return "reset_sent";
        case HEALTH_EV_RESET_RECEIVED:
            return "reset_received";
        case HEALTH_EV_RETRANSMIT:
            return "retransmit";
        case HEALTH_EV_CUTOVER:
            return "cutover";
        default:
            return "unknown";
    }
}

std::span<const dataplane::MapSpec> healthMapSpecs() { return kMaps; }

bool healthSetInUse(const std::string& dir) {
    // Every version registers its pid (health_procs_map); a set whose pids are all gone only
    // keeps tracing TCP for nobody. Anything that cannot be read counts as in use.
    UniqueFd procs(bpf_obj_get((dir + "/health_procs_map").c_str()));
    if (!procs) return errno != ENOENT;
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(procs.get(), &info, &len) != 0 || info.key_size != sizeof(__u32)) return true;
    __u32 cursor = 0, next = 0;
    bool first = true;
    while (bpf_map_get_next_key(procs.get(), first ? nullptr : &cursor, &next) == 0) {
        first = false;
        cursor = next;
        if (dataplane::pidAlive(next)) return true;
    }
    return errno != ENOENT;
}

dataplane::PinGroupKind healthPinKind() {
    return dataplane::PinGroupKind{
        "health profile",
        [](const std::string& dir) {
            return dataplane::pinExists(dir + "/health_procs_map") || dataplane::pinExists(dir + "/health_meta_map");
        },
        healthSetInUse,
    };
}

Result<std::unique_ptr<HealthPins>> HealthPins::open(const std::string& bpffs_root) {
    std::unique_ptr<HealthPins> pins(new HealthPins());
    pins->root_ = bpffs_root;
    pins->dir_ = bpffs_root + "/" + kHealthPinDir;
    auto fds = dataplane::openPinnedMaps(pins->dir_, kMaps);
    if (!fds) return tl::unexpected(fds.error());
    auto& maps = *fds;
    pins->sk_map_ = std::move(maps[kSk]);
    pins->procs_map_ = std::move(maps[kProcs]);
    pins->endpoints_map_ = std::move(maps[kEndpoints]);
    pins->hist_map_ = std::move(maps[kHist]);
    pins->ctr_map_ = std::move(maps[kCtr]);
    pins->thresh_map_ = std::move(maps[kThresh]);
    pins->ring_ = std::move(maps[kEvents]);
    pins->slots_map_ = std::move(maps[kSlots]);
    pins->ports_map_ = std::move(maps[kPorts]);
    auto mapped_log = EventLog::map(maps[kMeta].get(), maps[kLog].get());
    if (!mapped_log) return tl::unexpected(mapped_log.error());
    pins->log_ = std::move(*mapped_log);
    auto slots = MappedArray::map(pins->slots_map_.get(), "health_slots_map");
    if (!slots) return tl::unexpected(slots.error());
    pins->slots_ = std::move(*slots);
    auto ports = MappedArray::map(pins->ports_map_.get(), "health_ports_map");
    if (!ports) return tl::unexpected(ports.error());
    pins->ports_ = std::move(*ports);
    return pins;
}

std::string HealthPins::reason() const {
    const auto& m = meta();
    return std::string(m.reason, strnlen(m.reason, sizeof(m.reason)));
}

Result<void> HealthPins::registerProcess(std::uint32_t slot_index, const std::string& version, std::uint32_t pid) {
    if (slot_index >= HEALTH_SLOTS)
        return fail("health slot ", slot_index, " out of range (0..", HEALTH_SLOTS - 1, ")");
    health_slot& s = slot(slot_index);
    const bool same_version = s.registered && std::strncmp(s.version, version.c_str(), sizeof(s.version)) == 0;
    if (!same_version) {
        // A new version in a reused slot starts from zero: the series are labelled with its
        // version, and must not inherit what the slot's previous owner measured.
        std::atomic_ref<__u64>(s.requests).store(0, std::memory_order_relaxed);
        std::atomic_ref<__u64>(s.responses_5xx).store(0, std::memory_order_relaxed);
        std::atomic_ref<__u64>(s.rejected).store(0, std::memory_order_relaxed);
        if (auto zeroed = zeroSlotMaps(slot_index); !zeroed) return zeroed;
    }
    std::memset(s.version, 0, sizeof(s.version));
    std::memcpy(s.version, version.data(), std::min(version.size(), sizeof(s.version) - 1));
    s.pid = pid;
    s.registered_ms = unixMs();
    std::atomic_ref<__u32>(s.registered).store(1, std::memory_order_release);
    __u32 key = pid;
    __u32 value = slot_index;
    if (bpf_map_update_elem(procs_map_.get(), &key, &value, BPF_ANY) != 0)
        return sysError(errno, "register pid ", pid, " in ", dir_, "/health_procs_map");
    return {};
}

Result<void> HealthPins::zeroSlotMaps(std::uint32_t slot_index) {
    for (__u32 kind = 0; kind < HEALTH_H_KINDS; ++kind)
        for (__u32 index = 0; index < HEALTH_MAX_INDEX; ++index) {
            __u32 key = (kind * HEALTH_SLOTS + slot_index) * HEALTH_MAX_INDEX + index;
            if (auto zeroed = dataplane::writePerCpu(hist_map_.get(), &key, health_hist{},
                                                     "zero " + dir_ + "/health_hist_map[" + std::to_string(key) + "]");
                !zeroed)
                return zeroed;
        }
    for (__u32 side = 0; side < HEALTH_SIDES; ++side) {
        __u32 key = slot_index * HEALTH_SIDES + side;
        if (auto zeroed = dataplane::writePerCpu(ctr_map_.get(), &key, health_counters{},
                                                 "zero " + dir_ + "/health_ctr_map[" + std::to_string(key) + "]");
            !zeroed)
            return zeroed;
    }
    return {};
}

Result<void> HealthPins::markListener(int listen_fd, std::uint32_t slot_index, std::uint32_t index) {
    auto mark = VersionMark::make(meta().mark_seconds, slot_index, index);
    if (!mark) {
        if (meta().mark_seconds < HEALTH_MARK_SECONDS && slot_index < HEALTH_SLOTS && index < HEALTH_MAX_INDEX)
            return fail("no version-mark base in ", dir_, "/health_meta_map");
        return tl::unexpected(mark.error());
    }
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
        return sysError(errno, "read the port of listening fd ", listen_fd);
    const std::uint16_t port = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(local).sin6_port
                                                                 : reinterpret_cast<sockaddr_in&>(local).sin_port);
    // The port first: the programs look at the mark only on a listener port.
    setPortBit(HEALTH_SIDE_LISTENER, port);
    return mark->applyTo(listen_fd);
}

Result<void> HealthPins::addUpstream(const std::string& ip, std::uint16_t port, std::uint32_t index) {
    if (index >= HEALTH_MAX_INDEX) return fail("upstream index ", index, " above ", HEALTH_MAX_INDEX - 1);
    health_endpoint key{};
    key.port = port;
    if (::inet_pton(AF_INET, ip.c_str(), key.addr) == 1) {
        key.family = AF_INET;
    } else if (::inet_pton(AF_INET6, ip.c_str(), key.addr) == 1) {
        key.family = AF_INET6;
    } else {
        return fail("upstream address '", ip, "' is not an IP literal");
    }
    __u32 value = index;
    if (bpf_map_update_elem(endpoints_map_.get(), &key, &value, BPF_ANY) != 0)
        return sysError(errno, "add upstream ", ip, ":", port, " to ", dir_, "/health_endpoints_map");
    setPortBit(HEALTH_SIDE_UPSTREAM, port);  // after the endpoint: a socket passing the port test finds it
    return {};
}

void HealthPins::setPortBit(std::uint32_t side, std::uint16_t port) {
    // An atomic or: another version may be setting bits of the same word.
    std::atomic_ref<__u64>(ports_.as<__u64>()[side * HEALTH_PORT_WORDS + port / 64])
        .fetch_or(__u64{1} << (port % 64), std::memory_order_relaxed);
}

Result<bool> HealthPins::leave(std::uint32_t pid) {
    __u32 key = pid;
    (void)bpf_map_delete_elem(procs_map_.get(), &key);
    // Under the root's lock: a version publishing or registering now is waited for, so the
    // set is never unpinned between its load and its registration.
    auto lock = dataplane::PinRootLock::acquire(root_);
    if (!lock) return tl::unexpected(lock.error());
    if (healthSetInUse(dir_)) return false;  // another version still runs: keep everything
    if (auto removed = dataplane::removePinTree(dir_); !removed) return tl::unexpected(removed.error());
    return true;
}

Result<health_hist> HealthPins::readHist(std::uint32_t kind, std::uint32_t slot_index, std::uint32_t index) const {
    if (kind >= HEALTH_H_KINDS || slot_index >= HEALTH_SLOTS || index >= HEALTH_MAX_INDEX)
        return fail("histogram row (", kind, ", ", slot_index, ", ", index, ") out of range");
    __u32 key = (kind * HEALTH_SLOTS + slot_index) * HEALTH_MAX_INDEX + index;
    return dataplane::sumPerCpu<health_hist>(hist_map_.get(), &key,
                                             "read " + dir_ + "/health_hist_map[" + std::to_string(key) + "]");
}

Result<health_counters> HealthPins::readCounters(std::uint32_t row) const {
    __u32 key = row;
    return dataplane::sumPerCpu<health_counters>(ctr_map_.get(), &key,
                                                 "read " + dir_ + "/health_ctr_map[" + std::to_string(row) + "]");
}

Result<void> HealthPins::setThreshold(std::uint32_t event_kind, std::uint64_t threshold_us) {
    __u32 key = event_kind;
    __u64 value = threshold_us;
    if (bpf_map_update_elem(thresh_map_.get(), &key, &value, BPF_ANY) != 0)
        return sysError(errno, "write ", dir_, "/health_thresh_map[", event_kind, "]");
    return {};
}

Result<std::uint64_t> HealthPins::threshold(std::uint32_t event_kind) const {
    __u32 key = event_kind;
    __u64 value = 0;
    if (bpf_map_lookup_elem(thresh_map_.get(), &key, &value) != 0)
        return sysError(errno, "read ", dir_, "/health_thresh_map[", event_kind, "]");
    return value;
}

Result<std::unique_ptr<HealthPins>> loadHealth(const std::string& bpffs_root, HealthOptions options) {
    if (auto r = dataplane::ensureBpffsRoot(bpffs_root); !r) return tl::unexpected(r.error());
    auto lock = dataplane::PinRootLock::acquire(bpffs_root);
    if (!lock) return tl::unexpected(lock.error());
    return loadHealth(*lock, options);
}

Result<std::unique_ptr<HealthPins>> loadHealth(const dataplane::PinRootLock& lock, HealthOptions options) {
    const dataplane::PinSetRecipe recipe{
        kHealthPinDir,
        kMaps,
        [&options](const std::string& dir) { return loadInto(dir, options); },
        healthSetInUse,
    };
    if (auto published = dataplane::publishPinSet(lock, recipe); !published)
        return tl::unexpected(published.error());
    return HealthPins::open(lock.root());
}

}  // namespace hotgate::health

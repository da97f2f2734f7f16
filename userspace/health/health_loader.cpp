#include "health/health_loader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <utility>

#include "dataplane/bpffs.h"
#include "health.skel.h"

namespace hotgate::health {

namespace {

struct SkeletonDeleter {
    void operator()(::health* skel) const { health__destroy(skel); }
};
using SkeletonPtr = std::unique_ptr<::health, SkeletonDeleter>;

bool pathExists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

bool pidAlive(std::uint32_t pid) {
    if (pid == 0) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

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

// The kernel's HZ, which the programs need to decode the version mark (sk_rcvtimeo counts
// jiffies; see HEALTH_MARK_SECONDS): a receive timeout of 1 us is rounded up to one jiffy,
// and reading it back gives the length of a jiffy in microseconds.
Result<std::uint64_t> kernelHz() {
    UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) return sysError(errno, "create a socket to measure the kernel's HZ");
    timeval tv{0, 1};
    if (::setsockopt(probe.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
        return sysError(errno, "set SO_RCVTIMEO to measure the kernel's HZ");
    socklen_t len = sizeof(tv);
    if (::getsockopt(probe.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, &len) != 0)
        return sysError(errno, "read SO_RCVTIMEO to measure the kernel's HZ");
    if (tv.tv_sec != 0 || tv.tv_usec <= 0 || 1000000 % tv.tv_usec != 0)
        return fail("a 1 us receive timeout reads back as ", tv.tv_sec, " s ", tv.tv_usec,
                    " us: not one jiffy, cannot tell the kernel's HZ");
    return static_cast<std::uint64_t>(1000000 / tv.tv_usec);
}

// The version-mark base of a new set of pins: HEALTH_MARK_SECONDS plus a random id, so another
// gateway's marks (other pins, other programs) never decode as this one's.
std::uint64_t newMarkSeconds() {
    std::random_device entropy;
    const std::uint64_t id = entropy() & ((1u << HEALTH_MARK_ID_BITS) - 1);
    return HEALTH_MARK_SECONDS + id * HEALTH_MARK_CODES;
}

// The settings a load needs beyond the variant, decided once for all variant attempts.
struct LoadSettings {
    std::uint64_t hz = 0;            // the kernel's HZ (kernelHz)
    std::uint64_t mark_seconds = 0;  // newMarkSeconds
};

// Loads the object with `mode`'s variant programs turned on, maps pinned in `dir`, and
// attaches every program with its link pinned in `dir`. On failure nothing of this attempt
// stays attached (maps pinned in `dir` stay, for the next attempt to reuse).
Result<void> loadVariant(const std::string& dir, std::uint32_t mode, const HealthOptions& options,
                         const LoadSettings& settings) {
    SkeletonPtr skel(health__open());
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

Result<UniqueFd> openPin(const std::string& dir, const char* name, bpf_map_type type, std::uint32_t value_size) {
    const std::string path = dir + "/" + name;
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd) return sysError(errno, "open pinned map ", path);
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (int err = bpf_obj_get_info_by_fd(fd.get(), &info, &len); err != 0)
        return sysError(-err, "read info of pinned map ", path);
    if (info.type != static_cast<std::uint32_t>(type) || (value_size != 0 && info.value_size != value_size))
        return fail("pinned map ", path, " has another layout (type ", info.type, ", value ", info.value_size,
                    " bytes; this build wants type ", static_cast<std::uint32_t>(type), ", value ", value_size,
                    "): stop the gateways using it, or remove ", dir);
    return fd;
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

Result<std::unique_ptr<HealthPins>> HealthPins::open(const std::string& bpffs_root) {
    std::unique_ptr<HealthPins> pins(new HealthPins());
    pins->dir_ = bpffs_root + "/" + kHealthPinDir;
    const std::string& dir = pins->dir_;
    struct Want {
        UniqueFd* fd;
        const char* name;
        bpf_map_type type;
        std::uint32_t value_size;
    };
    const Want wants[] = {
        {&pins->sk_map_, "health_sk_map", BPF_MAP_TYPE_SK_STORAGE, sizeof(health_sk)},
        {&pins->procs_map_, "health_procs_map", BPF_MAP_TYPE_HASH, sizeof(__u32)},
        {&pins->endpoints_map_, "health_endpoints_map", BPF_MAP_TYPE_HASH, sizeof(__u32)},
        {&pins->hist_map_, "health_hist_map", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(health_hist)},
        {&pins->ctr_map_, "health_ctr_map", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(health_counters)},
        {&pins->thresh_map_, "health_thresh_map", BPF_MAP_TYPE_ARRAY, sizeof(__u64)},
        {&pins->ring_, "health_events", BPF_MAP_TYPE_RINGBUF, 0},
        {&pins->slots_map_, "health_slots_map", BPF_MAP_TYPE_ARRAY, sizeof(health_slot)},
        {&pins->ports_map_, "health_ports_map", BPF_MAP_TYPE_ARRAY, sizeof(__u64)},
    };
    for (const auto& want : wants) {
        auto fd = openPin(dir, want.name, want.type, want.value_size);
        if (!fd) return tl::unexpected(fd.error());
        *want.fd = std::move(*fd);
    }
    auto meta = openPin(dir, "health_meta_map", BPF_MAP_TYPE_ARRAY, sizeof(health_meta));
    if (!meta) return tl::unexpected(meta.error());
    auto log = openPin(dir, "health_log_map", BPF_MAP_TYPE_ARRAY, sizeof(health_log_entry));
    if (!log) return tl::unexpected(log.error());
    auto mapped_log = EventLog::map(meta->get(), log->get());
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
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return sysError(-cpus, "count possible CPUs");
    const std::vector<health_hist> hists(static_cast<std::size_t>(cpus));
    for (__u32 kind = 0; kind < HEALTH_H_KINDS; ++kind)
        for (__u32 index = 0; index < HEALTH_MAX_INDEX; ++index) {
            __u32 key = (kind * HEALTH_SLOTS + slot_index) * HEALTH_MAX_INDEX + index;
            if (bpf_map_update_elem(hist_map_.get(), &key, hists.data(), BPF_ANY) != 0)
                return sysError(errno, "zero ", dir_, "/health_hist_map[", key, "]");
        }
    const std::vector<health_counters> counters(static_cast<std::size_t>(cpus));
    for (__u32 side = 0; side < HEALTH_SIDES; ++side) {
        __u32 key = slot_index * HEALTH_SIDES + side;
        if (bpf_map_update_elem(ctr_map_.get(), &key, counters.data(), BPF_ANY) != 0)
            return sysError(errno, "zero ", dir_, "/health_ctr_map[", key, "]");
    }
    return {};
}

Result<void> HealthPins::markListener(int listen_fd, std::uint32_t slot_index, std::uint32_t index) {
    if (slot_index >= HEALTH_SLOTS) return fail("health slot ", slot_index, " out of range");
    if (index >= HEALTH_MAX_INDEX) return fail("listener index ", index, " above ", HEALTH_MAX_INDEX - 1);
    // The mark (see HEALTH_MARK_SECONDS): the listener's receive timeout, copied by the kernel
    // into every connection it accepts from now on.
    const std::uint64_t base = meta().mark_seconds;
    if (base < HEALTH_MARK_SECONDS) return fail("no version-mark base in ", dir_, "/health_meta_map");
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
        return sysError(errno, "read the port of listening fd ", listen_fd);
    const std::uint16_t port = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(local).sin6_port
                                                                 : reinterpret_cast<sockaddr_in&>(local).sin_port);
    // The port first: the programs look at the mark only on a listener port.
    setPortBit(HEALTH_SIDE_LISTENER, port);
    const timeval mark{static_cast<time_t>(base + slot_index * HEALTH_MAX_INDEX + index), 0};
    if (::setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &mark, sizeof(mark)) != 0)
        return sysError(errno, "mark listening fd ", listen_fd, " with health slot ", slot_index,
                        " (SO_RCVTIMEO)");
    return {};
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
    __u32 cursor = 0, next = 0;
    bool first = true;
    while (bpf_map_get_next_key(procs_map_.get(), first ? nullptr : &cursor, &next) == 0) {
        first = false;
        cursor = next;
        if (pidAlive(next)) return false;  // another version still runs: keep everything
    }
    if (auto removed = dataplane::removePinTree(dir_); !removed) return tl::unexpected(removed.error());
    return true;
}

Result<health_hist> HealthPins::readHist(std::uint32_t kind, std::uint32_t slot_index, std::uint32_t index) const {
    if (kind >= HEALTH_H_KINDS || slot_index >= HEALTH_SLOTS || index >= HEALTH_MAX_INDEX)
        return fail("histogram row (", kind, ", ", slot_index, ", ", index, ") out of range");
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return sysError(-cpus, "count possible CPUs");
    std::vector<health_hist> per_cpu(static_cast<std::size_t>(cpus));
    __u32 key = (kind * HEALTH_SLOTS + slot_index) * HEALTH_MAX_INDEX + index;
    if (bpf_map_lookup_elem(hist_map_.get(), &key, per_cpu.data()) != 0)
        return sysError(errno, "read ", dir_, "/health_hist_map[", key, "]");
    health_hist sum{};
    for (const auto& h : per_cpu) {
        for (int b = 0; b < HEALTH_BUCKETS; ++b) sum.buckets[b] += h.buckets[b];
        sum.sum_us += h.sum_us;
    }
    return sum;
}

Result<health_counters> HealthPins::readCounters(std::uint32_t row) const {
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return sysError(-cpus, "count possible CPUs");
    std::vector<health_counters> per_cpu(static_cast<std::size_t>(cpus));
    __u32 key = row;
    if (bpf_map_lookup_elem(ctr_map_.get(), &key, per_cpu.data()) != 0)
        return sysError(errno, "read ", dir_, "/health_ctr_map[", row, "]");
    health_counters sum{};
    for (const auto& c : per_cpu)
        for (int i = 0; i < 16; ++i) sum.count[i] += c.count[i];
    return sum;
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
    const std::string dir = bpffs_root + "/" + kHealthPinDir;
    // Two tries: another version may load and rename into place between our check and ours.
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (pathExists(dir + "/health_meta_map")) return HealthPins::open(bpffs_root);
        // First version: load into a private directory and rename it into place, so nobody
        // ever opens half-loaded health pins.
        const std::string tmp = dataplane::tempPinDir(bpffs_root, kHealthPinDir);
        (void)dataplane::removePinTree(tmp);
        if (::mkdir(tmp.c_str(), 0700) != 0) return sysError(errno, "create pin directory ", tmp);
        auto hz = kernelHz();
        if (!hz) {
            (void)dataplane::removePinTree(tmp);
            return tl::unexpected(hz.error());
        }
        const LoadSettings settings{*hz, newMarkSeconds()};
        std::string refused;
        std::optional<std::uint32_t> chosen;
        for (int mode = static_cast<int>(std::min<std::uint32_t>(options.best_mode, HEALTH_MODE_FENTRY));
             mode >= HEALTH_MODE_TRACEPOINT; --mode) {
            auto loaded = loadVariant(tmp, static_cast<std::uint32_t>(mode), options, settings);
            if (loaded) {
                chosen = static_cast<std::uint32_t>(mode);
                break;
            }
            refused += std::string(refused.empty() ? "" : "; ") + modeName(static_cast<std::uint32_t>(mode)) +
                       " refused: " + loaded.error().message;
        }
        if (!chosen) {
            (void)dataplane::removePinTree(tmp);
            return fail("health programs: no variant loads and attaches (", refused, ")");
        }
        {
            auto meta = openPin(tmp, "health_meta_map", BPF_MAP_TYPE_ARRAY, sizeof(health_meta));
            if (!meta) return tl::unexpected(meta.error());
            auto mapped = MappedArray::map(meta->get(), "health_meta_map");
            if (!mapped) return tl::unexpected(mapped.error());
            health_meta& m = *mapped->as<health_meta>();
            m.mode = *chosen;
            m.mark_seconds = settings.mark_seconds;
            m.load_ms = unixMs();
            std::snprintf(m.reason, sizeof(m.reason), "%s", refused.c_str());
        }
        if (::rename(tmp.c_str(), dir.c_str()) != 0) {
            const int err = errno;
            (void)dataplane::removePinTree(tmp);              // unpins our links: our programs detach
            if (err == EEXIST || err == ENOTEMPTY) continue;  // lost the race: use theirs
            return sysError(err, "move pin directory ", tmp, " to ", dir);
        }
        return HealthPins::open(bpffs_root);
    }
    return fail("pin directory ", dir, " kept changing while loading health");
}

}  // namespace hotgate::health

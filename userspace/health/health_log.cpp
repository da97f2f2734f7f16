#include "health/health_log.h"

#include <bpf/bpf.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <utility>

#include "common/unique_fd.h"

namespace hotgate::health {

std::uint64_t unixMs() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

std::uint64_t monotonicNs() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

Result<MappedArray> MappedArray::map(int fd, const char* name) {
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (int err = bpf_obj_get_info_by_fd(fd, &info, &len); err != 0) return sysError(-err, "read info of map ", name);
    if (!(info.map_flags & BPF_F_MMAPABLE)) return fail("map ", name, " is not mmapable");
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t elem = (info.value_size + 7) / 8 * 8;  // the kernel rounds values to 8
    const std::size_t bytes = (elem * info.max_entries + page - 1) / page * page;
    void* addr = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) return sysError(errno, "mmap map ", name, " (", bytes, " bytes)");
    MappedArray out;
    out.addr_ = addr;
    out.length_ = bytes;
    return out;
}

MappedArray::~MappedArray() {
    if (addr_) ::munmap(addr_, length_);
}

MappedArray::MappedArray(MappedArray&& other) noexcept
    : addr_(std::exchange(other.addr_, nullptr)), length_(std::exchange(other.length_, 0)) {}

MappedArray& MappedArray::operator=(MappedArray&& other) noexcept {
    if (this != &other) {
        if (addr_) ::munmap(addr_, length_);
        addr_ = std::exchange(other.addr_, nullptr);
        length_ = std::exchange(other.length_, 0);
    }
    return *this;
}

Result<EventLog> EventLog::map(int meta_fd, int log_fd) {
    EventLog out;
    auto meta = MappedArray::map(meta_fd, "health_meta_map");
    if (!meta) return tl::unexpected(meta.error());
    auto log = MappedArray::map(log_fd, "health_log_map");
    if (!log) return tl::unexpected(log.error());
    out.meta_ = std::move(*meta);
    out.log_ = std::move(*log);
    return out;
}

Result<EventLog> EventLog::open(const std::string& bpffs_root) {
    const std::string dir = bpffs_root + "/" + kHealthPinDir;
    UniqueFd meta(bpf_obj_get((dir + "/health_meta_map").c_str()));
    if (!meta) return sysError(errno, "open pinned map ", dir, "/health_meta_map");
    UniqueFd log(bpf_obj_get((dir + "/health_log_map").c_str()));
    if (!log) return sysError(errno, "open pinned map ", dir, "/health_log_map");
    return map(meta.get(), log.get());  // the mappings outlive the fds
}

std::uint64_t EventLog::append(const health_event& event) {
    std::atomic_ref<__u64> head(meta().log_head);
    const std::uint64_t seq = head.fetch_add(1, std::memory_order_relaxed) + 1;
    health_log_entry& entry = log_.as<health_log_entry>()[(seq - 1) % HEALTH_LOG_SIZE];
    std::atomic_ref<__u64> committed(entry.committed);
    // A seqlock of one writer per entry: readers skip an entry whose stamp changed under them.
    committed.store(0, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    std::memcpy(&entry.ev, &event, sizeof(event));
    committed.store(seq, std::memory_order_release);
    return seq;
}

std::vector<LoggedEvent> EventLog::read(std::uint64_t since, std::size_t limit, std::uint64_t& next) const {
    std::vector<LoggedEvent> out;
    const std::uint64_t head = std::atomic_ref<__u64>(meta().log_head).load(std::memory_order_acquire);
    std::uint64_t first = std::max<std::uint64_t>(since, 1);
    if (head >= HEALTH_LOG_SIZE && first <= head - HEALTH_LOG_SIZE) first = head - HEALTH_LOG_SIZE + 1;
    next = std::max<std::uint64_t>(since, first);
    for (std::uint64_t seq = first; seq <= head && out.size() < limit; ++seq) {
        const health_log_entry& entry = log_.as<health_log_entry>()[(seq - 1) % HEALTH_LOG_SIZE];
        std::atomic_ref<__u64> committed(const_cast<__u64&>(entry.committed));
        next = seq + 1;
        if (committed.load(std::memory_order_acquire) != seq) continue;  // not yet written, or reused
        LoggedEvent copy;
        copy.seq = seq;
        std::memcpy(&copy.event, &entry.ev, sizeof(copy.event));
        std::atomic_thread_fence(std::memory_order_acquire);
        if (committed.load(std::memory_order_relaxed) != seq) continue;
        out.push_back(copy);
    }
    return out;
}

Result<void> appendCutoverEvent(const std::string& bpffs_root, std::uint32_t from_slot, std::uint32_t to_slot) {
    auto log = EventLog::open(bpffs_root);
    if (!log) return tl::unexpected(log.error());
    // A cutover writes the control entry of every listener group: one event for all of them.
    const std::uint64_t now_ms = unixMs();
    const std::uint64_t head = std::atomic_ref<__u64>(log->meta().log_head).load(std::memory_order_acquire);
    std::uint64_t ignored = 0;
    for (const auto& recent : log->read(head > 8 ? head - 8 : 0, 8, ignored)) {
        const health_event& e = recent.event;
        if (e.kind == HEALTH_EV_CUTOVER && e.from_slot == from_slot && e.slot == to_slot && now_ms - e.time_ms < 2000)
            return {};
    }
    health_event event{};
    event.time_ns = monotonicNs();
    event.time_ms = now_ms;
    event.kind = HEALTH_EV_CUTOVER;
    event.slot = to_slot;
    event.from_slot = from_slot;
    log->append(event);
    return {};
}

std::function<void(std::uint32_t, std::uint32_t)> cutoverEventLogger(std::string bpffs_root) {
    return [root = std::move(bpffs_root)](std::uint32_t from_slot, std::uint32_t to_slot) {
        (void)appendCutoverEvent(root, from_slot, to_slot);
    };
}

}  // namespace hotgate::health

// Pinned maps against their specs: what a map of this build looks like (MapSpec), opening a
// pinned map only when it matches, saying why a pin set does not, and the per-CPU reads and
// writes every loader needs. Part of the pin helper (see bpffs.h).
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace hotgate::dataplane {

// max_entries of a spec whose size is chosen at load time (a ring buffer's): not checked.
inline constexpr std::uint32_t kAnyMaxEntries = UINT32_MAX;

// One map of a BPF object as this build defines it. A loader's table of these must match its
// .bpf.c (tests/bpf/bpffs_test.cpp compares every table with the object itself).
struct MapSpec {
    const char* name;
    bpf_map_type type;
    std::uint32_t key_size;
    std::uint32_t value_size;
    std::uint32_t max_entries;  // kAnyMaxEntries: set at load, not checked
    std::uint32_t flags = 0;    // map_flags (BPF_F_NO_PREALLOC, BPF_F_MMAPABLE...)
};

// Why the map described by `info` is not `spec`, as "type 2, this build wants type 1; ...";
// nullopt when it matches.
std::optional<std::string> mapMismatch(const bpf_map_info& info, const MapSpec& spec);

// Opens <dir>/<spec.name> and checks it against `spec`. Fails with errno when the pin is
// missing or unreadable (ENOENT: not pinned), and without errno, naming the path, both
// layouts and the fix, when the pinned map has another layout.
Result<UniqueFd> openPinnedMap(const std::string& dir, const MapSpec& spec);

// Opens every map of `specs` in `dir`, in order (see openPinnedMap).
Result<std::vector<UniqueFd>> openPinnedMaps(const std::string& dir, std::span<const MapSpec> specs);

// Why the pin set in `dir` cannot serve a build with `specs`: the first map missing,
// unreadable or of another layout ("pinned map DIR/steer_ctl_map has another layout (value
// size 16, this build wants 8)"). nullopt when every map matches.
std::optional<std::string> pinSetIncompatibility(const std::string& dir, std::span<const MapSpec> specs);

// A close-on-exec duplicate of `fd` (a skeleton's map fd that must outlive the skeleton).
Result<UniqueFd> duplicateFd(int fd, const char* what);

// Number of possible CPUs: the number of values of one per-CPU map entry.
Result<int> possibleCpus();

// The sum over CPUs of one entry of a per-CPU map whose value is a struct of __u64 counters
// only (every loader's per-CPU maps are). Fails with the lookup's errno (ENOENT: no such key
// in a per-CPU hash); `what` names the step ("read steer_stats_map[2] of listener web").
template <typename T>
Result<T> sumPerCpu(int map_fd, const void* key, const std::string& what);

// Writes `value` to one entry of a per-CPU map on every CPU (zeroing a row, typically).
// `what` names the step, as for sumPerCpu.
template <typename T>
Result<void> writePerCpu(int map_fd, const void* key, const T& value, const std::string& what);

// Non-template parts of the above.
namespace detail {
Result<void> lookupPerCpu(int map_fd, const void* key, void* values, const std::string& what);
Result<void> updatePerCpu(int map_fd, const void* key, const void* values, const std::string& what);
}  // namespace detail

template <typename T>
Result<T> sumPerCpu(int map_fd, const void* key, const std::string& what) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % sizeof(std::uint64_t) == 0,
                  "sumPerCpu adds __u64 counters: T must be a struct of them");
    auto cpus = possibleCpus();
    if (!cpus) return tl::unexpected(cpus.error());
    std::vector<T> per_cpu(static_cast<std::size_t>(*cpus));
    if (auto read = detail::lookupPerCpu(map_fd, key, per_cpu.data(), what); !read)
        return tl::unexpected(read.error());
    constexpr std::size_t kWords = sizeof(T) / sizeof(std::uint64_t);
    std::uint64_t sum[kWords] = {};
    for (const T& value : per_cpu) {
        std::uint64_t words[kWords];
        std::memcpy(words, &value, sizeof(T));
        for (std::size_t w = 0; w < kWords; ++w) sum[w] += words[w];
    }
    T out;
    std::memcpy(&out, sum, sizeof(T));
    return out;
}

template <typename T>
Result<void> writePerCpu(int map_fd, const void* key, const T& value, const std::string& what) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % sizeof(std::uint64_t) == 0,
                  "per-CPU values are 8-byte aligned structs");
    auto cpus = possibleCpus();
    if (!cpus) return tl::unexpected(cpus.error());
    const std::vector<T> per_cpu(static_cast<std::size_t>(*cpus), value);
    return detail::updatePerCpu(map_fd, key, per_cpu.data(), what);
}

}  // namespace hotgate::dataplane

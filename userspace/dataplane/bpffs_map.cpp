#include "dataplane/bpffs_map.h"

#include <fcntl.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <sstream>

namespace hotgate::dataplane {

std::optional<std::string> mapMismatch(const bpf_map_info& info, const MapSpec& spec) {
    std::ostringstream out;
    auto differs = [&out](const char* field, std::uint32_t pinned, std::uint32_t wanted) {
        if (pinned == wanted) return;
        out << (out.tellp() > 0 ? "; " : "") << field << " " << pinned << ", this build wants " << wanted;
    };
    differs("type", info.type, static_cast<std::uint32_t>(spec.type));
    differs("key size", info.key_size, spec.key_size);
    differs("value size", info.value_size, spec.value_size);
    if (spec.max_entries != kAnyMaxEntries) differs("max entries", info.max_entries, spec.max_entries);
    differs("flags", info.map_flags, spec.flags);
    if (out.tellp() == 0) return std::nullopt;
    return out.str();
}

namespace {

// Opens <dir>/<spec.name>; the error says what is wrong, without the fix.
Result<UniqueFd> checkPinnedMap(const std::string& dir, const MapSpec& spec) {
    const std::string path = dir + "/" + spec.name;
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd) return sysError(errno, "open pinned map ", path);
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (int err = bpf_obj_get_info_by_fd(fd.get(), &info, &len); err != 0)
        return sysError(-err, "read info of pinned map ", path);
    if (auto mismatch = mapMismatch(info, spec)) return fail("pinned map ", path, " has another layout (", *mismatch, ")");
    return fd;
}

}  // namespace

Result<UniqueFd> openPinnedMap(const std::string& dir, const MapSpec& spec) {
    auto fd = checkPinnedMap(dir, spec);
    if (!fd && fd.error().errnum == 0)
        return fail(fd.error().message, ": stop the gateways using it, or remove ", dir);
    return fd;
}

Result<std::vector<UniqueFd>> openPinnedMaps(const std::string& dir, std::span<const MapSpec> specs) {
    std::vector<UniqueFd> fds;
    fds.reserve(specs.size());
    for (const MapSpec& spec : specs) {
        auto fd = openPinnedMap(dir, spec);
        if (!fd) return tl::unexpected(fd.error());
        fds.push_back(std::move(*fd));
    }
    return fds;
}

std::optional<std::string> pinSetIncompatibility(const std::string& dir, std::span<const MapSpec> specs) {
    for (const MapSpec& spec : specs) {
        auto fd = checkPinnedMap(dir, spec);
        if (!fd) return fd.error().message;
    }
    return std::nullopt;
}

Result<UniqueFd> duplicateFd(int fd, const char* what) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) return sysError(errno, "duplicate fd of ", what);
    return UniqueFd(copy);
}

Result<int> possibleCpus() {
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return sysError(-cpus, "count possible CPUs");
    return cpus;
}

namespace detail {

Result<void> lookupPerCpu(int map_fd, const void* key, void* values, const std::string& what) {
    if (bpf_map_lookup_elem(map_fd, key, values) != 0) return sysError(errno, what);
    return {};
}

Result<void> updatePerCpu(int map_fd, const void* key, const void* values, const std::string& what) {
    if (bpf_map_update_elem(map_fd, key, values, BPF_ANY) != 0) return sysError(errno, what);
    return {};
}

}  // namespace detail

}  // namespace hotgate::dataplane

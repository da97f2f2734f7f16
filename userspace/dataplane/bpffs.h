// bpffs: where pinned BPF objects live. Mounts bpffs on /sys/fs/bpf when nothing is mounted
// there, and names the per-listener pin directories (<root>/<listener>/). The rest of the pin
// helper: bpffs_map.h (open and check a pinned map against its spec, per-CPU reads),
// bpffs_lock.h (the root's flock), bpffs_publish.h (publish a pin directory atomically) and
// bpffs_gc.h (remove pin groups nobody serves).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace hotgate::dataplane {

inline constexpr std::string_view kDefaultBpffsRoot = "/sys/fs/bpf/hotgate";
inline constexpr std::string_view kBpffsMountPoint = "/sys/fs/bpf";

// True when `path` exists and is on a bpf filesystem.
bool isOnBpffs(const std::string& path);

// Makes `root` an existing directory on a bpffs. When `root` is under /sys/fs/bpf and no bpffs
// is mounted there, mounts one (needs CAP_SYS_ADMIN). Fails when `root` would land on another
// filesystem, or on mount/mkdir errors (errno kept).
Result<void> ensureBpffsRoot(const std::string& root);

// Checks a name used as one pin directory component: non-empty, at most 64 characters of
// [A-Za-z0-9_-] (bpffs refuses any name with a '.'), not starting with '_' (reserved for
// temporary dirs).
Result<void> validatePinName(std::string_view name);

// "<root>/<name>" (no filesystem access).
std::string pinDir(const std::string& root, std::string_view name);

// "<root>/_tmp_<name>_<pid>": where a group is pinned before being renamed into place.
std::string tempPinDir(const std::string& root, std::string_view name);

// Creates "<root>/<name>" (after ensureBpffsRoot) if missing and returns its path.
Result<std::string> ensurePinDir(const std::string& root, std::string_view name);

// True when something (a pin, a directory) exists at `path`.
bool pinExists(const std::string& path);

// True when process `pid` exists (EPERM counts: it exists, owned by someone else). 0 is never
// alive. A pid registered in a pinned map may have been reused: callers treat "alive" as
// "maybe still serving", never the other way round.
bool pidAlive(std::uint32_t pid);

// Removes `dir` and every pin in it (one level deep, plus nested directories). Used for
// temporary pin dirs and by tests for their private roots; ENOENT is not an error.
Result<void> removePinTree(const std::string& dir);

}  // namespace hotgate::dataplane

#include "dataplane/bpffs_gc.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "dataplane/bpffs.h"

namespace hotgate::dataplane {

namespace {

constexpr std::string_view kTempPrefix = "_tmp_";

// The pid of a temporary directory's name (_tmp_<name>_<pid>, see tempPinDir); 0 when none.
std::uint32_t tempDirPid(std::string_view name) {
    const auto underscore = name.rfind('_');
    if (underscore == std::string_view::npos || underscore < kTempPrefix.size()) return 0;
    std::uint32_t pid = 0;
    const char* first = name.data() + underscore + 1;
    const char* last = name.data() + name.size();
    auto [end, ec] = std::from_chars(first, last, pid);
    return ec == std::errc() && end == last ? pid : 0;
}

Result<std::vector<std::string>> subdirectories(const std::string& root) {
    std::vector<std::string> names;
    DIR* d = ::opendir(root.c_str());
    if (!d) return sysError(errno, "list bpffs root ", root);
    while (struct dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == ".." || e->d_type != DT_DIR) continue;
        names.push_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

PrunedGroup removeGroup(std::string dir, std::string what) {
    PrunedGroup group{std::move(dir), std::move(what), PruneVerdict::kRemoved, {}};
    if (auto removed = removePinTree(group.dir); !removed) {
        group.verdict = PruneVerdict::kFailed;
        group.error = removed.error().message;
    }
    return group;
}

}  // namespace

Result<std::vector<PrunedGroup>> prunePinGroups(const PinRootLock& lock, std::span<const PinGroupKind> kinds) {
    auto names = subdirectories(lock.root());
    if (!names) return tl::unexpected(names.error());
    std::vector<PrunedGroup> out;
    for (const auto& name : *names) {
        const std::string dir = pinDir(lock.root(), name);
        if (name.compare(0, kTempPrefix.size(), kTempPrefix) == 0) {
            // A publisher's private directory: garbage once its pid is gone (a crash mid-publish).
            const std::uint32_t pid = tempDirPid(name);
            if (pid == 0 || pidAlive(pid))
                out.push_back({dir, "temporary pin directory", PruneVerdict::kInUse, {}});
            else
                out.push_back(removeGroup(dir, "temporary pin directory"));
            continue;
        }
        const auto kind = std::find_if(kinds.begin(), kinds.end(), [&](const PinGroupKind& k) { return k.matches(dir); });
        if (kind == kinds.end()) continue;
        if (kind->in_use(dir))
            out.push_back({dir, kind->what, PruneVerdict::kInUse, {}});
        else
            out.push_back(removeGroup(dir, kind->what));
    }
    return out;
}

Result<std::vector<PrunedGroup>> prunePinGroups(const std::string& root, std::span<const PinGroupKind> kinds) {
    if (!pinExists(root)) return std::vector<PrunedGroup>{};
    auto lock = PinRootLock::acquire(root);
    if (!lock) return tl::unexpected(lock.error());
    return prunePinGroups(*lock, kinds);
}

}  // namespace hotgate::dataplane

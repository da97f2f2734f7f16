// Garbage collection of pin groups: a group nobody serves any more (no live socket in it, every
// pid registered in it gone) stays under the bpffs root forever otherwise, and makes gwctl see
// listeners no gateway runs. The gateway prunes its root when it starts, and so does
// `gwctl dataplane --prune`. Part of the pin helper (see bpffs.h).
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "dataplane/bpffs_lock.h"

namespace hotgate::dataplane {

// One kind of pin group that may sit under a root, and how to tell whether it is served.
struct PinGroupKind {
    std::string what;                                      // "steer listener group", for reports
    std::function<bool(const std::string& dir)> matches;   // `dir` holds a group of this kind
    std::function<bool(const std::string& dir)> in_use;    // someone serves it; true when unsure
};

enum class PruneVerdict {
    kRemoved,  // nobody served it: unpinned
    kInUse,    // served (or maybe served): kept
    kFailed,   // garbage, but removing it failed (error says why)
};

struct PrunedGroup {
    std::string dir;
    std::string what;  // the kind's `what`, or "temporary pin directory"
    PruneVerdict verdict = PruneVerdict::kInUse;
    std::string error;  // kFailed only
};

// Under `lock`: judges every directory directly under the root that one of `kinds` matches,
// plus temporary directories (<root>/_tmp_<name>_<pid>) whose pid is gone, and removes the
// garbage. Directories no kind matches (the XDP front, anything unknown) are never touched.
// Fails only when the root cannot be listed; one group's removal failing is a kFailed entry.
Result<std::vector<PrunedGroup>> prunePinGroups(const PinRootLock& lock, std::span<const PinGroupKind> kinds);

// Same, taking the root's lock first. A root that does not exist holds no garbage.
Result<std::vector<PrunedGroup>> prunePinGroups(const std::string& root, std::span<const PinGroupKind> kinds);

}  // namespace hotgate::dataplane

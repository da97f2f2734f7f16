// Publishing a pin directory: <root>/<name> appears whole or not at all. A fresh set is pinned
// into a private temporary directory and renamed into place under the root's lock; an existing
// set is reused only when every map matches this build's specs, and an incompatible one is
// replaced only when nobody serves it. Part of the pin helper (see bpffs.h).
#pragma once

#include <functional>
#include <span>
#include <string>

#include "common/error.h"
#include "dataplane/bpffs_lock.h"
#include "dataplane/bpffs_map.h"

namespace hotgate::dataplane {

// How one pin directory is judged and made.
struct PinSetRecipe {
    std::string name;               // the directory under the root (validatePinName)
    std::span<const MapSpec> maps;  // what a compatible set holds
    // Pins a fresh set into `dir`, a private temporary directory renamed into place after.
    std::function<Result<void>(const std::string& dir)> populate;
    // Whether the set in `dir` is still served (see bpffs_gc.h); true when unsure.
    std::function<bool(const std::string& dir)> in_use;
};

enum class PinSetOrigin {
    kExisting,   // a compatible set was already there: the caller reuses its pins
    kPublished,  // this call populated the set and renamed it into place
};

struct PublishedPinSet {
    std::string dir;
    PinSetOrigin origin;
};

// Under `lock`: makes <root>/<name> a pin set compatible with recipe.maps. An empty directory
// is no set and is removed; an incompatible set nobody serves is removed. Losing the rename to
// a publisher that does not lock (an older build) reuses what it published. Fails with the
// populate error (nothing of this call stays pinned), with the reason when an incompatible set
// is still in use, or on mkdir/rename errors, naming the directory.
Result<PublishedPinSet> publishPinSet(const PinRootLock& lock, const PinSetRecipe& recipe);

}  // namespace hotgate::dataplane

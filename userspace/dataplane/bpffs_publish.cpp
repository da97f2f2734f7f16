#include "dataplane/bpffs_publish.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "dataplane/bpffs.h"

namespace hotgate::dataplane {

Result<PublishedPinSet> publishPinSet(const PinRootLock& lock, const PinSetRecipe& recipe) {
    if (auto valid = validatePinName(recipe.name); !valid) return tl::unexpected(valid.error());
    const std::string dir = pinDir(lock.root(), recipe.name);
    // Two tries: a publisher that does not take the lock may rename its set into place between
    // our check and our rename; the second try reuses it.
    for (int attempt = 0; attempt < 2; ++attempt) {
        // An empty directory (made by hand, or left by a crash mid-removal) is no pin set;
        // rmdir removes nothing else.
        (void)::rmdir(dir.c_str());
        if (pinExists(dir)) {
            auto incompatible = pinSetIncompatibility(dir, recipe.maps);
            if (!incompatible) return PublishedPinSet{dir, PinSetOrigin::kExisting};
            if (recipe.in_use(dir))
                return fail(*incompatible, "; the set is still in use: stop the gateways using it, or remove ", dir);
            // Left by versions that are all gone (another build, or a crash): replaced.
            if (auto removed = removePinTree(dir); !removed)
                return fail("replace the incompatible pin set ", dir, ": ", removed.error().message);
        }
        const std::string tmp = tempPinDir(lock.root(), recipe.name);
        (void)removePinTree(tmp);  // a leftover of a crashed run with a reused pid
        if (::mkdir(tmp.c_str(), 0700) != 0) return sysError(errno, "create pin directory ", tmp);
        if (auto populated = recipe.populate(tmp); !populated) {
            (void)removePinTree(tmp);
            return tl::unexpected(populated.error());
        }
        if (::rename(tmp.c_str(), dir.c_str()) != 0) {
            const int err = errno;
            (void)removePinTree(tmp);
            if (err == EEXIST || err == ENOTEMPTY) continue;
            return sysError(err, "move pin directory ", tmp, " to ", dir);
        }
        return PublishedPinSet{dir, PinSetOrigin::kPublished};
    }
    return fail("pin directory ", dir, " kept changing while publishing it");
}

}  // namespace hotgate::dataplane

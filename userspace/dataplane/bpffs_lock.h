// PinRootLock: an exclusive flock(2) on a bpffs root directory. Whoever publishes a pin
// directory holds it until the new set is claimed (sockets or a pid registered in it), and
// the garbage collector holds it while it judges and removes groups, so a collector never
// removes a group between its publication and the registration that makes it served.
// Advisory: builds before this one do not take it, which is why publishing still handles a
// lost rename race (bpffs_publish.h). Part of the pin helper (see bpffs.h).
#pragma once

#include <chrono>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace hotgate::dataplane {

class PinRootLock {
public:
    // Takes the lock on `root` (an existing directory), waiting at most `timeout` for another
    // holder. Fails naming the root: ENOENT when it does not exist, EWOULDBLOCK when another
    // process held the lock for the whole timeout, other errnos from open/flock.
    static Result<PinRootLock> acquire(const std::string& root,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

    PinRootLock(PinRootLock&&) noexcept = default;
    PinRootLock& operator=(PinRootLock&&) noexcept = default;
    // Closing the fd releases the lock.
    ~PinRootLock() = default;

    const std::string& root() const { return root_; }

private:
    PinRootLock(UniqueFd fd, std::string root) : fd_(std::move(fd)), root_(std::move(root)) {}

    UniqueFd fd_;
    std::string root_;
};

}  // namespace hotgate::dataplane

#include "dataplane/bpffs_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <thread>

namespace hotgate::dataplane {

Result<PinRootLock> PinRootLock::acquire(const std::string& root, std::chrono::milliseconds timeout) {
    UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return sysError(errno, "open bpffs root ", root, " to lock it");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(1);
    // Polled rather than a blocking flock: a holder that hangs must cost a clear error, not a
    // gateway that never starts.
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err == EINTR) continue;
        if (err != EWOULDBLOCK) return sysError(err, "lock bpffs root ", root);
        if (std::chrono::steady_clock::now() >= deadline)
            return sysError(err, "lock bpffs root ", root, " (another process held it for ", timeout.count(),
                            " ms)");
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(20));
    }
    return PinRootLock(std::move(fd), root);
}

}  // namespace hotgate::dataplane

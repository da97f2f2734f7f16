#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace hotgate {

Result<void> writeFileAtomically(const std::string& path, const std::string& text) {
    const std::string temporary = path + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return sysError(errno, "write ", temporary);
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return sysError(err, "write ", temporary);
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        return sysError(err, "sync ", temporary);
    }
    ::close(fd);
    if (::rename(temporary.c_str(), path.c_str()) != 0) return sysError(errno, "rename ", temporary, " to ", path);
    return {};
}


}  // namespace hotgate

#include "common/poll_wait.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

namespace hotgate {

bool waitForEvents(int fd, short events, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::max<long long>(left, 0)));
        if (n == 0 && left <= 0) {
            errno = ETIMEDOUT;
            return false;
        }
        if (n > 0) return true;
        if (n < 0 && errno != EINTR) return false;
    }
}

}  // namespace hotgate

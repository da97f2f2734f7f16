// Waiting for one blocking socket to become readable or writable, under a deadline: the control
// protocol's frames and gwctl verify's shadow paths.
#pragma once

#include <chrono>

namespace hotgate {

// Waits until `fd` has one of `events` (POLLIN, POLLOUT); false on timeout (errno = ETIMEDOUT)
// or a poll error. Past the deadline it still looks once: a thread descheduled for a while must
// not call "timeout" on bytes that are already waiting.
bool waitForEvents(int fd, short events, std::chrono::steady_clock::time_point deadline);

}  // namespace hotgate

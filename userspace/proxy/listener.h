// ListenerGroup: a named listener as the kernel sees it: one SO_REUSEPORT listening socket per
// worker, all bound to the same address. This group is what BPF steering (dataplane/) drives:
// its sockets are registered in a version slot of the listener's reuseport sockarray.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "config/config.h"

namespace hotgate {

class ListenerGroup {
public:
    // Opens, binds and listens one socket per worker. Fails (closing what it opened) with the
    // listener's name, address and errno, e.g. "listener public: bind 127.0.0.1:8080: Address in use".
    static Result<ListenerGroup> open(const ListenerConfig& config, unsigned workers);

    const std::string& name() const { return name_; }
    const SocketAddress& address() const { return address_; }
    std::size_t size() const { return fds_.size(); }

    // The listening fds, for steering registration (valid while the group still owns them).
    std::vector<int> fds() const;

    // Hands worker `index` its socket; the group keeps only the fd number for status.
    UniqueFd take(std::size_t index) { return std::move(fds_[index]); }

private:
    std::string name_;
    SocketAddress address_;
    std::vector<UniqueFd> fds_;
};

// Backlog per socket: deep enough that a burst of new connections during a cutover is queued,
// not refused (the kernel caps it at net.core.somaxconn).
constexpr int kListenBacklog = 4096;

}  // namespace hotgate

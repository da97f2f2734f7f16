// BlackholeListener: a 127.0.0.1 port where a TCP connect hangs instead of completing or
// being refused, for upstream connect-timeout tests. It listens with backlog 0 and fills its
// accept queue with its own connections, so the kernel drops further SYNs (never accepting).
#pragma once

#include <cstdint>
#include <vector>

namespace hotgate::test {

class BlackholeListener {
public:
    // Sets up the port; port() is 0 when that failed (e.g. the queue never filled).
    BlackholeListener();
    ~BlackholeListener();
    BlackholeListener(const BlackholeListener&) = delete;
    BlackholeListener& operator=(const BlackholeListener&) = delete;

    std::uint16_t port() const { return port_; }

private:
    int listen_fd_ = -1;
    std::vector<int> fillers_;
    std::uint16_t port_ = 0;
};

}  // namespace hotgate::test

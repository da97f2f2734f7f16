// Small blocking TCP helpers for the BPF tests: SO_REUSEPORT listeners on 127.0.0.1,
// clients (optionally from a fixed source port), accepting from whichever listener is ready,
// and closing with a reset so thousands of connections leave no TIME_WAIT behind.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/unique_fd.h"

namespace hotgate::test {

inline sockaddr_in ipv4Address(const char* ip, uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &addr.sin_addr);
    return addr;
}

// A listening SO_REUSEPORT socket on ip:port; invalid UniqueFd on failure (errno set).
inline UniqueFd listenReuseport(uint16_t port, int backlog = 1024, const char* ip = "127.0.0.1") {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fd;
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr = ipv4Address(ip, port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd.get(), backlog) != 0)
        return UniqueFd();
    return fd;
}

// A connected client (blocking connect); from `src_port` when non-zero. Invalid on failure.
inline UniqueFd connectTo(uint16_t port, uint16_t src_port = 0, const char* ip = "127.0.0.1") {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fd;
    if (src_port != 0) {
        int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sockaddr_in src = ipv4Address("127.0.0.1", src_port);
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) return UniqueFd();
    }
    sockaddr_in addr = ipv4Address(ip, port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return UniqueFd();
    return fd;
}

// Closes with SO_LINGER 0: an RST instead of a FIN, so no TIME_WAIT on either side.
inline void closeWithReset(UniqueFd& fd) {
    if (!fd) return;
    linger lg{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    fd.reset();
}

// Waits up to timeout_ms for a connection on any of `listeners` and accepts it.
// Returns the index of the listener that had it and the accepted socket.
inline std::optional<std::pair<size_t, UniqueFd>> acceptAny(const std::vector<int>& listeners,
                                                            int timeout_ms = 2000) {
    std::vector<pollfd> fds;
    for (int fd : listeners) fds.push_back(pollfd{fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), timeout_ms) <= 0) return std::nullopt;
    for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents & POLLIN) {
            UniqueFd conn(::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC));
            if (conn) return std::make_pair(i, std::move(conn));
        }
    }
    return std::nullopt;
}

// Writes all of `data`; false on error.
inline bool writeAll(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

// Reads up to `want` bytes, waiting at most timeout_ms per read. Sets err to the errno of a
// failed read (ECONNRESET for a reset), 0 on EOF or success.
inline std::string readSome(int fd, size_t want, int& err, int timeout_ms = 2000) {
    std::string out;
    err = 0;
    while (out.size() < want) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) {
            err = ETIMEDOUT;
            break;
        }
        char buf[256];
        ssize_t n = ::recv(fd, buf, std::min(sizeof(buf), want - out.size()), 0);
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// Raises RLIMIT_NOFILE's soft limit to at least `want` (up to the hard limit).
inline void raiseFdLimit(rlim_t want) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    if (lim.rlim_cur >= want) return;
    lim.rlim_cur = std::min(want, lim.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &lim);
}

}  // namespace hotgate::test

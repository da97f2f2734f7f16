// bench_net.h: what the C++ benchmarks (tools/bench/*/main.cpp) share: dying with the program's
// name, a private network namespace with loopback up, and listening sockets on 127.0.0.1.
// Header-only: each benchmark is one translation unit.
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/unique_fd.h"

namespace hotgate::bench {

// Prints "<program>: <what>" to stderr and exits 1.
[[noreturn]] inline void die(const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
    std::exit(1);
}

inline sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// A listening TCP socket on 127.0.0.1:port with `reuse_option` (SO_REUSEPORT for a group of
// listeners, SO_REUSEADDR for one rebound again and again) set first.
inline UniqueFd listenOnLoopback(std::uint16_t port, int reuse_option, int backlog) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, reuse_option, &one, sizeof(one));
    sockaddr_in a = loopback(port);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd.get(), backlog) != 0)
        die("listen on 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    return fd;
}

// Moves this process into a new network namespace and brings its loopback up: the benchmark's
// ports and traffic never meet the host's.
inline void enterPrivateNetns() {
    if (::unshare(CLONE_NEWNET) != 0)
        die(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno) + " (run as root)");
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq req{};
    std::strcpy(req.ifr_name, "lo");
    if (::ioctl(s.get(), SIOCGIFFLAGS, &req) != 0) die("read flags of lo");
    req.ifr_flags |= IFF_UP;
    if (::ioctl(s.get(), SIOCSIFFLAGS, &req) != 0) die("set lo up");
}

}  // namespace hotgate::bench

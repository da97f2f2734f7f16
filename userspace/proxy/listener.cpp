#include "proxy/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace hotgate {
namespace {

Result<UniqueFd> openListenSocket(const std::string& listener, const SocketAddress& address) {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_INET;
    if (address.ip.find(':') != std::string::npos) {
        family = AF_INET6;
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(address.port);
        if (inet_pton(AF_INET6, address.ip.c_str(), &in6->sin6_addr) != 1)
            return fail("listener ", listener, ": bad IPv6 address ", address.ip);
        length = sizeof(sockaddr_in6);
    } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
        in4->sin_family = AF_INET;
        in4->sin_port = htons(address.port);
        if (inet_pton(AF_INET, address.ip.c_str(), &in4->sin_addr) != 1)
            return fail("listener ", listener, ": bad IPv4 address ", address.ip);
        length = sizeof(sockaddr_in);
    }
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return sysError(errno, "listener ", listener, ": socket()");
    const int one = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        return sysError(errno, "listener ", listener, ": SO_REUSEADDR on fd ", fd.get());
    // Every worker's socket, and later the next version's, joins one reuseport group.
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        return sysError(errno, "listener ", listener, ": SO_REUSEPORT on fd ", fd.get());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0)
        return sysError(errno, "listener ", listener, ": bind ", address.toString());
    if (::listen(fd.get(), kListenBacklog) != 0)
        return sysError(errno, "listener ", listener, ": listen on ", address.toString());
    return fd;
}

}  // namespace

Result<ListenerGroup> ListenerGroup::open(const ListenerConfig& config, unsigned workers) {
    ListenerGroup group;
    group.name_ = config.name;
    group.address_ = config.address;
    for (unsigned i = 0; i < workers; ++i) {
        auto fd = openListenSocket(config.name, config.address);
        if (!fd) return tl::unexpected(fd.error());
        group.fds_.push_back(std::move(*fd));
    }
    return group;
}

std::vector<int> ListenerGroup::fds() const {
    std::vector<int> out;
    for (const auto& fd : fds_) out.push_back(fd.get());
    return out;
}

}  // namespace hotgate

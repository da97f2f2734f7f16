#include "support/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

namespace hotgate::test {

namespace {

Result<UniqueFd> openThreadNetns() {
    UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!fd) return sysError(errno, "open /proc/thread-self/ns/net");
    return fd;
}

}  // namespace

Result<void> setLinkUp(const std::string& ifname) {
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return sysError(errno, "socket for SIOCSIFFLAGS");
    ifreq req{};
    std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0) return sysError(errno, "SIOCGIFFLAGS ", ifname);
    req.ifr_flags |= IFF_UP;
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &req) != 0) return sysError(errno, "SIOCSIFFLAGS up ", ifname);
    return {};
}

Result<void> waitLinkRunning(const std::string& ifname, int timeout_ms) {
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return sysError(errno, "socket for SIOCGIFFLAGS");
    for (int waited = 0;; waited += 10) {
        ifreq req{};
        std::strncpy(req.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
        if (::ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0) return sysError(errno, "SIOCGIFFLAGS ", ifname);
        if (req.ifr_flags & IFF_RUNNING) return {};
        if (waited >= timeout_ms) return fail(ifname, " has no carrier after ", timeout_ms, " ms");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

Result<std::unique_ptr<ScopedNetns>> ScopedNetns::enter() {
    auto original = openThreadNetns();
    if (!original) return tl::unexpected(original.error());
    if (::unshare(CLONE_NEWNET) != 0) return sysError(errno, "unshare(CLONE_NEWNET)");
    auto inner = openThreadNetns();
    if (!inner || !setLinkUp("lo")) {
        Error err = !inner ? inner.error() : setLinkUp("lo").error();
        ::setns(original->get(), CLONE_NEWNET);
        return tl::unexpected(err);
    }
    return std::unique_ptr<ScopedNetns>(new ScopedNetns(std::move(*original), std::move(*inner)));
}

ScopedNetns::~ScopedNetns() { ::setns(original_.get(), CLONE_NEWNET); }

Result<UniqueFd> createNetns() {
    Result<UniqueFd> result = fail("namespace thread did not run");
    std::thread([&] {
        // This thread exits right after: its namespace lives on through the fd.
        if (::unshare(CLONE_NEWNET) != 0) {
            result = sysError(errno, "unshare(CLONE_NEWNET)");
            return;
        }
        if (auto up = setLinkUp("lo"); !up) {
            result = tl::unexpected(up.error());
            return;
        }
        result = openThreadNetns();
    }).join();
    return result;
}

Result<void> runInNetns(int netns_fd, const std::function<void()>& fn) {
    Result<void> result;
    std::thread([&] {
        if (::setns(netns_fd, CLONE_NEWNET) != 0) {
            result = sysError(errno, "setns(", netns_fd, ", CLONE_NEWNET)");
            return;
        }
        fn();
    }).join();
    return result;
}

Result<void> runIp(const std::vector<std::string>& args) {
    std::vector<std::string> all{"ip"};
    all.insert(all.end(), args.begin(), args.end());
    std::string line;
    std::vector<char*> argv;
    for (auto& a : all) {
        argv.push_back(a.data());
        line += (line.empty() ? "" : " ") + a;
    }
    argv.push_back(nullptr);
    // posix_spawn: the child starts in the calling thread's network namespace.
    pid_t pid = 0;
    int err = ::posix_spawn(&pid, "/usr/sbin/ip", nullptr, nullptr, argv.data(), environ);
    if (err == ENOENT) err = ::posix_spawn(&pid, "/sbin/ip", nullptr, nullptr, argv.data(), environ);
    if (err != 0) return sysError(err, "start '", line, "' (iproute2 installed?)");
    int status = 0;
    if (::waitpid(pid, &status, 0) < 0) return sysError(errno, "wait for '", line, "'");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("'", line, "' failed (status ", status, ")");
    return {};
}

Result<void> createVethPair(const std::string& local, const std::string& local_cidr,
                            const std::string& peer, const std::string& peer_cidr,
                            int peer_netns_fd) {
    const std::string peer_ns = "/proc/" + std::to_string(::getpid()) + "/fd/" +
                                std::to_string(peer_netns_fd);
    if (auto r = runIp({"link", "add", local, "type", "veth", "peer", "name", peer, "netns", peer_ns}); !r)
        return r;
    if (auto r = runIp({"addr", "add", local_cidr, "dev", local}); !r) return r;
    if (auto r = runIp({"link", "set", local, "up"}); !r) return r;
    Result<void> peer_result;
    auto ran = runInNetns(peer_netns_fd, [&] {
        peer_result = runIp({"addr", "add", peer_cidr, "dev", peer});
        if (peer_result) peer_result = runIp({"link", "set", peer, "up"});
        if (peer_result) peer_result = waitLinkRunning(peer);
    });
    if (!ran) return ran;
    if (!peer_result) return peer_result;
    return waitLinkRunning(local);
}

}  // namespace hotgate::test

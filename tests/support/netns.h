// Network namespaces for tests: move the calling thread into a fresh namespace with lo up
// (and back), make extra namespaces, run code in one, and wire veth pairs between them.
// Only namespaces the test created are ever touched; host interfaces never are.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace hotgate::test {

// Moves the calling thread into a new network namespace with `lo` up; the destructor moves
// it back. Threads started inside inherit the namespace. Sockets created inside stay in it.
class ScopedNetns {
public:
    // Fails on unshare/setns/ioctl errors (needs CAP_SYS_ADMIN).
    static Result<std::unique_ptr<ScopedNetns>> enter();
    ~ScopedNetns();
    ScopedNetns(const ScopedNetns&) = delete;
    ScopedNetns& operator=(const ScopedNetns&) = delete;

    // An fd of the namespace this thread is in now (for setns / `ip ... netns`).
    int fd() const { return inner_.get(); }

private:
    ScopedNetns(UniqueFd original, UniqueFd inner) : original_(std::move(original)), inner_(std::move(inner)) {}
    UniqueFd original_;
    UniqueFd inner_;
};

// Creates a network namespace with `lo` up without entering it; the fd keeps it alive.
Result<UniqueFd> createNetns();

// Runs `fn` on a thread that first joins the namespace `netns_fd`; returns when it is done.
// Fails when setns fails (fn is not run then).
Result<void> runInNetns(int netns_fd, const std::function<void()>& fn);

// Sets `ifname` up in the calling thread's namespace.
Result<void> setLinkUp(const std::string& ifname);

// Waits (bounded by timeout_ms) until `ifname` in the calling thread's namespace reports
// IFF_RUNNING (carrier up: for a veth, both ends up). Fails naming the interface otherwise.
Result<void> waitLinkRunning(const std::string& ifname, int timeout_ms = 5000);

// Runs /usr/sbin/ip (iproute2) with `args` in the calling thread's namespace, stdout/stderr
// inherited. Fails with the command line when it cannot start or exits non-zero.
Result<void> runIp(const std::vector<std::string>& args);

// Creates veth pair `local`/`peer` in the calling thread's namespace, moves `peer` into
// `peer_netns_fd`, gives them `local_cidr` and `peer_cidr` (e.g. "10.77.0.1/24"), sets
// both up and waits until both report carrier.
Result<void> createVethPair(const std::string& local, const std::string& local_cidr,
                            const std::string& peer, const std::string& peer_cidr,
                            int peer_netns_fd);

}  // namespace hotgate::test

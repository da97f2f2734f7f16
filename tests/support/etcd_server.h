// EtcdServer: a one-member etcd (Debian's etcd-server) a test starts on loopback ports of its
// own, with its data in the test's directory; stopped by its PID, restartable on the same data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "support/child_process.h"

namespace hotgate::test {

class EtcdServer {
public:
    // Starts etcd with its data in `dir`/etcd; false with `error` when it does not answer
    // within 15 s. Again after stop(): the same ports and data.
    bool start(const std::filesystem::path& dir, std::string& error);
    // SIGTERM, then SIGKILL after 5 s.
    void stop();
    std::string url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
    std::uint16_t clientPort() const { return client_port_; }
    // etcdctl against this member; its stdout, or "" when it failed (reported as a failure).
    std::string etcdctl(const std::vector<std::string>& args) const;

private:
    ChildProcess process_;
    std::filesystem::path dir_;
    std::uint16_t client_port_ = 0;
    std::uint16_t peer_port_ = 0;
};

}  // namespace hotgate::test

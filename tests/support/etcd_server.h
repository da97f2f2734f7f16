// EtcdServer: an etcd member (Debian's etcd-server) a test starts on loopback ports of its own,
// with its data in the test's directory; stopped by its PID, restartable on the same data. On
// its own it is a one-member cluster; EtcdCluster makes three that know each other.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "support/child_process.h"

namespace hotgate::test {

class EtcdServer {
public:
    // Before start(): the member serves https:// with `cert_file`/`key_file` and requires
    // client certificates signed by `tls.ca_file`; `tls` is also what this side's clients use.
    void useTls(EtcdTlsConfig tls, std::string cert_file, std::string key_file);
    const std::optional<EtcdTlsConfig>& tls() const { return tls_; }
    // Starts etcd with its data in `dir`/etcd-<name> and waits until it answers; false with
    // `error` when it does not within 15 s. Again after stop(): the same ports and data.
    bool start(const std::filesystem::path& dir, std::string& error);
    // SIGTERM, then SIGKILL after 5 s.
    void stop();
    // SIGKILL: a member lost without a goodbye.
    void kill() { process_.kill(); }
    std::string url() const {
        return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(client_port_);
    }
    std::uint16_t clientPort() const { return client_port_; }
    // etcdctl against this member; its stdout, or "" when it failed (reported as a failure).
    std::string etcdctl(const std::vector<std::string>& args) const;

    // start() in two steps: a cluster's members answer once a quorum of them runs.
    bool launch(const std::filesystem::path& dir, std::string& error);
    bool waitAnswer(std::string& error);

private:
    friend class EtcdCluster;
    void pickPorts();
    std::string peerUrl() const { return "http://127.0.0.1:" + std::to_string(peer_port_); }

    ChildProcess process_;
    std::filesystem::path dir_;
    std::string name_ = "test";
    std::string initial_cluster_;  // "name=peer,...": empty for a one-member cluster
    std::uint16_t client_port_ = 0;
    std::uint16_t peer_port_ = 0;
    std::optional<EtcdTlsConfig> tls_;
    std::string cert_file_;
    std::string key_file_;
};

// Three members on loopback, each restartable on its data; stopped by PID.
class EtcdCluster {
public:
    static constexpr std::size_t kMembers = 3;
    bool start(const std::filesystem::path& dir, std::string& error);
    // Starts every member again on its data (after stopAll).
    bool startAll(const std::filesystem::path& dir, std::string& error);
    void stopAll();
    // Disaster recovery: every member's data replaced by `snapshot` (etcdctl snapshot restore),
    // then started. The store's revision goes back to the snapshot's. After stopAll.
    bool restore(const std::filesystem::path& dir, const std::filesystem::path& snapshot, std::string& error);
    EtcdServer& member(std::size_t index) { return members_[index]; }
    std::vector<std::string> urls() const;

private:
    std::string initialCluster() const;
    EtcdServer members_[kMembers];
};

}  // namespace hotgate::test

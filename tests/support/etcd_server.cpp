#include "support/etcd_server.h"

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "fleet/etcd_client.h"
#include "support/gateway_process.h"

namespace hotgate::test {

void EtcdServer::pickPorts() {
    if (client_port_ != 0) return;
    client_port_ = pickFreePort();
    peer_port_ = pickFreePort();
}

void EtcdServer::useTls(EtcdTlsConfig tls, std::string cert_file, std::string key_file) {
    tls_ = std::move(tls);
    cert_file_ = std::move(cert_file);
    key_file_ = std::move(key_file);
}

bool EtcdServer::launch(const std::filesystem::path& dir, std::string& error) {
    dir_ = dir;
    pickPorts();
    const std::string client = url();
    const std::string peer = peerUrl();
    std::vector<std::string> argv{"/usr/bin/etcd", "--name", name_, "--data-dir", (dir / ("etcd-" + name_)).string(),
                                  "--listen-client-urls", client, "--advertise-client-urls", client,
                                  "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                  "--initial-cluster", initial_cluster_.empty() ? name_ + "=" + peer : initial_cluster_,
                                  "--log-level", "warn"};
    if (tls_)
        argv.insert(argv.end(), {"--cert-file", cert_file_, "--key-file", key_file_, "--trusted-ca-file",
                                 tls_->ca_file, "--client-cert-auth"});
    if (!initial_cluster_.empty())
        argv.insert(argv.end(), {"--initial-cluster-token", "hotgate-test-" + std::to_string(::getpid())});
    return process_.start(argv, dir / ("etcd-" + name_ + ".out"), dir / ("etcd-" + name_ + ".err"), error);
}

bool EtcdServer::waitAnswer(std::string& error) {
    fleet::EtcdClient probe({url()}, std::chrono::milliseconds(500), tls_);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < give_up) {
        if (probe.get("/probe")) return true;
        if (!process_.running()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error = "etcd did not answer on " + url() + ": " + process_.readStderr();
    process_.kill();
    return false;
}

bool EtcdServer::start(const std::filesystem::path& dir, std::string& error) {
    return launch(dir, error) && waitAnswer(error);
}

void EtcdServer::stop() {
    process_.signal(SIGTERM);
    if (!process_.waitExit(std::chrono::seconds(5))) process_.kill();
}

std::string EtcdServer::etcdctl(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"/usr/bin/etcdctl", "--endpoints", url()};
    if (tls_)
        argv.insert(argv.end(), {"--cacert", tls_->ca_file, "--cert", tls_->cert_file, "--key", tls_->key_file});
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = runCommand(argv, dir_, std::chrono::seconds(15));
    EXPECT_EQ(result.exit_code, 0) << "etcdctl failed: " << result.err;
    return result.exit_code == 0 ? result.out : std::string();
}

std::string EtcdCluster::initialCluster() const {
    std::string cluster;
    for (const auto& member : members_)
        cluster += (cluster.empty() ? "" : ",") + member.name_ + "=" + member.peerUrl();
    return cluster;
}

bool EtcdCluster::start(const std::filesystem::path& dir, std::string& error) {
    for (std::size_t i = 0; i < kMembers; ++i) {
        members_[i].name_ = "m" + std::to_string(i + 1);
        members_[i].pickPorts();
    }
    for (auto& member : members_) member.initial_cluster_ = initialCluster();
    return startAll(dir, error);
}

bool EtcdCluster::startAll(const std::filesystem::path& dir, std::string& error) {
    for (auto& member : members_)
        if (!member.launch(dir, error)) return false;
    for (auto& member : members_)
        if (!member.waitAnswer(error)) return false;
    return true;
}

bool EtcdCluster::restore(const std::filesystem::path& dir, const std::filesystem::path& snapshot,
                          std::string& error) {
    for (auto& member : members_) {
        const auto data = dir / ("etcd-" + member.name_);
        std::filesystem::remove_all(data);
        const auto result = runCommand({"/usr/bin/etcdctl", "snapshot", "restore", snapshot.string(), "--name",
                                        member.name_, "--initial-cluster", initialCluster(),
                                        "--initial-cluster-token", "hotgate-test-restored-" + std::to_string(::getpid()),
                                        "--initial-advertise-peer-urls", member.peerUrl(), "--data-dir", data.string()},
                                       dir, std::chrono::seconds(30));
        if (result.exit_code != 0) {
            error = "etcdctl snapshot restore for " + member.name_ + ": " + result.err;
            return false;
        }
    }
    return startAll(dir, error);
}

void EtcdCluster::stopAll() {
    for (auto& member : members_) member.process_.signal(SIGTERM);
    for (auto& member : members_) member.stop();
}

std::vector<std::string> EtcdCluster::urls() const {
    std::vector<std::string> out;
    for (const auto& member : members_) out.push_back(member.url());
    return out;
}

}  // namespace hotgate::test

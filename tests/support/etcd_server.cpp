#include "support/etcd_server.h"

#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "fleet/etcd_client.h"
#include "support/gateway_process.h"

namespace hotgate::test {

bool EtcdServer::start(const std::filesystem::path& dir, std::string& error) {
    dir_ = dir;
    if (client_port_ == 0) {
        client_port_ = pickFreePort();
        peer_port_ = pickFreePort();
    }
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    if (!process_.start({"/usr/bin/etcd", "--name", "test", "--data-dir", (dir / "etcd").string(),
                         "--listen-client-urls", client, "--advertise-client-urls", client, "--listen-peer-urls",
                         peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "test=" + peer,
                         "--log-level", "warn"},
                        dir / "etcd.out", dir / "etcd.err", error))
        return false;
    fleet::EtcdClient probe({client}, std::chrono::milliseconds(500));
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < give_up) {
        if (probe.get("/probe")) return true;
        if (!process_.running()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    error = "etcd did not answer on " + client + ": " + process_.readStderr();
    process_.kill();
    return false;
}

void EtcdServer::stop() {
    process_.signal(SIGTERM);
    if (!process_.waitExit(std::chrono::seconds(5))) process_.kill();
}

std::string EtcdServer::etcdctl(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"/usr/bin/etcdctl", "--endpoints", url()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = runCommand(argv, dir_, std::chrono::seconds(15));
    EXPECT_EQ(result.exit_code, 0) << "etcdctl failed: " << result.err;
    return result.exit_code == 0 ? result.out : std::string();
}

}  // namespace hotgate::test

// The receive timeouts of a running gateway's sockets, read from outside the process
// (pidfd_getfd): every one is either unset or the VersionMark of its own slot and one of its
// listeners (its listening sockets and the connections they accepted). A receive timeout set
// any other way (on an upstream connection, the admin or control socket, or a wrong mark on a
// listener) fails here, whatever the code that set it; tests/unit/version_mark_test.cpp checks
// the sources for the same rule.
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gateway_fixture.h"
#include "health/health_loader.h"
#include "health/version_mark.h"
#include "support/privilege.h"
#include "tcp_util.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class GatewayMarksTest : public GatewayFixture {
protected:
    void SetUp() override {
        HOTGATE_NEEDS_PRIVILEGE("BPF mode and the health programs");
        GatewayFixture::SetUp();
        config_.steering = "auto";
        config_.workers = 2;
    }
};

struct SocketTimeout {
    int fd = -1;  // in the gateway
    timeval timeout{};
};

// The receive timeout of every socket the process holds, copied out with pidfd_getfd.
std::vector<SocketTimeout> socketTimeouts(pid_t pid, std::string& error) {
    std::vector<SocketTimeout> out;
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) {
        error = std::string("pidfd_open: ") + std::strerror(errno);
        return out;
    }
    for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        std::error_code ec;
        const auto target = std::filesystem::read_symlink(entry.path(), ec).string();
        if (ec || target.rfind("socket:", 0) != 0) continue;
        const int remote = std::stoi(entry.path().filename().string());
        UniqueFd copy(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), remote, 0)));
        if (!copy) continue;  // closed since the listing
        SocketTimeout socket{remote, {}};
        socklen_t len = sizeof(socket.timeout);
        if (::getsockopt(copy.get(), SOL_SOCKET, SO_RCVTIMEO, &socket.timeout, &len) != 0) continue;
        out.push_back(socket);
    }
    return out;
}

TEST_F(GatewayMarksTest, EveryReceiveTimeoutOfTheGatewayIsItsOwnVersionMark) {
    ASSERT_TRUE(startGateway());
    auto status = httpGet(adminPort(), "/status");
    ASSERT_TRUE(status.ok()) << status.error();
    const auto json = nlohmann::json::parse(status.response.body(), nullptr, false);
    ASSERT_EQ(json.value("mode", ""), "bpf") << status.response.body();
    const std::uint32_t slot = json.value("slot", 0u);
    auto pins = health::HealthPins::open(gateway_.writtenConfig().bpffs_root);
    ASSERT_TRUE(pins) << pins.error().what();
    const std::uint64_t base = (*pins)->meta().mark_seconds;

    // Accepted client connections held open, and upstream connections made (pooled).
    std::vector<UniqueFd> clients;
    for (int i = 0; i < 3; ++i) {
        UniqueFd client = connectTo(port());
        ASSERT_TRUE(client) << "connect #" << i;
        ASSERT_TRUE(writeAll(client.get(), "GET /upstream HTTP/1.1\r\nHost: t\r\n\r\n"));
        int err = 0;
        EXPECT_FALSE(readSome(client.get(), 1, err, 5000).empty()) << "no response on connection #" << i;
        clients.push_back(std::move(client));
    }

    std::string error;
    const auto sockets = socketTimeouts(gateway_.pid(), error);
    ASSERT_TRUE(error.empty()) << error;
    std::size_t marked = 0;
    for (const auto& socket : sockets) {
        if (socket.timeout.tv_sec == 0 && socket.timeout.tv_usec == 0) continue;
        const auto mark = health::VersionMark::decode(base, static_cast<std::uint64_t>(socket.timeout.tv_sec));
        EXPECT_TRUE(mark && socket.timeout.tv_usec == 0 && mark->slot() == slot && mark->index() == 0)
            << "fd " << socket.fd << " of the gateway has a receive timeout of " << socket.timeout.tv_sec << " s "
            << socket.timeout.tv_usec << " us, which is not its version mark (base " << base << ", slot " << slot
            << ", listener 0)";
        ++marked;
    }
    // Two listening sockets (one per worker) and the three accepted connections, at least.
    EXPECT_GE(marked, 5u) << "the gateway's listeners lost their version mark (" << sockets.size() << " sockets)";
    EXPECT_GT(sockets.size(), marked) << "no unmarked socket: the upstream, admin and control sockets are missing";
}

}  // namespace
}  // namespace hotgate::test

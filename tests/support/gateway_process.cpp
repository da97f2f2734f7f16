#include "support/gateway_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "control/control_server.h"

namespace hotgate::test {

std::string hotgateBinary() { return (std::filesystem::path(HOTGATE_BIN_DIR) / "hotgate").string(); }
std::string gwctlBinary() { return (std::filesystem::path(HOTGATE_BIN_DIR) / "gwctl").string(); }

std::uint16_t pickFreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        port = ntohs(addr.sin_port);
    ::close(fd);
    return port;
}

bool canConnect(std::uint16_t port, std::chrono::milliseconds timeout) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = false;
    int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    if (r == 0) {
        ok = true;
    } else if (errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1) {
            int err = 0;
            socklen_t len = sizeof(err);
            ok = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
        }
    }
    ::close(fd);
    return ok;
}

GatewayProcess::GatewayProcess() : dir_(makeTempDir("hotgate-it")) {}

GatewayProcess::~GatewayProcess() {
    child_.kill();
    if (!own_bpffs_root_.empty()) {
        // Pins outlive a killed process; they are files on bpffs and go like files.
        std::error_code ec;
        std::filesystem::remove_all(own_bpffs_root_, ec);
    }
    if (!dir_.empty() && std::getenv("HOTGATE_KEEP_TEMP") == nullptr) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
}

std::filesystem::path GatewayProcess::writeFile(const std::string& name, const std::string& text) const {
    auto path = dir_ / name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path;
}

::testing::AssertionResult GatewayProcess::start(const GatewayConfig& config,
                                                 std::chrono::milliseconds ready_timeout) {
    if (dir_.empty()) return ::testing::AssertionFailure() << "could not create a temp dir";
    port_ = config.listen_port;
    admin_port_ = config.admin_port;
    GatewayConfig own = config;
    if (own.bpffs_root.empty()) {
        own_bpffs_root_ = std::filesystem::path("/sys/fs/bpf") / dir_.filename();
        own.bpffs_root = own_bpffs_root_.string();
    }
    written_config_ = own;
    config_file_ = writeFile("hotgate.yaml", own.toYaml());
    std::string error;
    std::vector<std::string> argv = launcher_;
    for (std::string arg : {hotgateBinary(), std::string("--config"), config_file_.string(),
                            std::string("--control-socket"), controlSocket().string()})
        argv.push_back(arg);
    if (!child_.start(argv,
                      dir_ / "hotgate.out", dir_ / "hotgate.err", error))
        return ::testing::AssertionFailure() << error;

    auto deadline = std::chrono::steady_clock::now() + ready_timeout;
    // Ready: the listener, the admin endpoint and the control socket all answer (tests ask the
    // control socket for Status right after start).
    bool listener_up = false;
    bool admin_up = false;
    bool control_up = false;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!child_.running()) {
            auto code = child_.waitExit(std::chrono::milliseconds(0));
            return ::testing::AssertionFailure()
                   << "hotgate exited with " << code.value_or(-1) << " before it was ready; stderr:\n"
                   << stderrText() << "\nconfig:\n" << readFile(config_file_);
        }
        listener_up = listener_up || canConnect(port_);
        admin_up = admin_up || canConnect(admin_port_);
        control_up = control_up || control::connectControl(controlSocket().string()).has_value();
        if (listener_up && admin_up && control_up) return ::testing::AssertionSuccess();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return ::testing::AssertionFailure() << "hotgate not ready within " << ready_timeout.count()
                                         << " ms (listener " << (listener_up ? "up" : "down")
                                         << ", admin " << (admin_up ? "up" : "down") << ", control socket "
                                         << (control_up ? "up" : "down") << "); stderr:\n"
                                         << stderrText();
}

}  // namespace hotgate::test

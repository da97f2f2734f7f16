#include "control/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "control/fd_passing.h"
#include "observability/logging.h"

namespace hotgate::control {
namespace {

Result<sockaddr_un> unixAddress(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) return fail("control socket path too long: ", path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    return address;
}

}  // namespace

Result<UniqueFd> connectControl(const std::string& path) {
    auto address = unixAddress(path);
    if (!address) return tl::unexpected(address.error());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return sysError(errno, "control: socket()");
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0)
        return sysError(errno, "control: connect to ", path);
    return fd;
}

Result<std::unique_ptr<ControlServer>> ControlServer::listen(const std::string& path, Handler handler,
                                                             bool replace_live) {
    std::unique_ptr<ControlServer> server(new ControlServer(path, std::move(handler)));
    const auto directory = std::filesystem::path(path).parent_path();
    if (!directory.empty() && ::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST)
        return sysError(errno, "control: mkdir ", directory.string());
    if (!replace_live) {
        if (auto live = connectControl(path); live)
            return fail("control: another hotgate already answers on ", path,
                        " (use `gwctl upgrade` to replace it, or stop it first)");
    }
    const std::string temporary = path + ".new." + std::to_string(::getpid());
    auto address = unixAddress(temporary);
    if (!address) return tl::unexpected(address.error());
    server->listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!server->listen_fd_) return sysError(errno, "control: socket()");
    ::unlink(temporary.c_str());
    if (::bind(server->listen_fd_.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0)
        return sysError(errno, "control: bind ", temporary);
    if (::chmod(temporary.c_str(), 0600) != 0) {
        const int err = errno;
        ::unlink(temporary.c_str());
        return sysError(err, "control: chmod 0600 ", temporary);
    }
    if (::listen(server->listen_fd_.get(), 16) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(temporary.c_str());
        return sysError(err, "control: listen/rename to ", path);
    }
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0) server->inode_ = st.st_ino;
    int wake[2];
    if (::pipe2(wake, O_CLOEXEC) != 0) return sysError(errno, "control: pipe2");
    server->wake_read_.reset(wake[0]);
    server->wake_write_.reset(wake[1]);
    server->accept_thread_ = std::thread([s = server.get()] { s->acceptLoop(); });
    return server;
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() {
    if (stopping_.exchange(true)) return;
    if (wake_write_) (void)!::write(wake_write_.get(), "x", 1);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::list<std::pair<int, std::thread>> connections;
    {
        std::lock_guard lock(connections_mutex_);
        for (auto& [fd, thread] : connections_) ::shutdown(fd, SHUT_RDWR);
        connections.swap(connections_);
    }
    for (auto& [fd, thread] : connections)
        if (thread.joinable()) thread.join();
    // Only remove the path if it is still ours: a successor may have renamed its own over it.
    struct stat st{};
    if (inode_ != 0 && ::stat(path_.c_str(), &st) == 0 && st.st_ino == inode_) ::unlink(path_.c_str());
}

void ControlServer::acceptLoop() {
    while (!stopping_) {
        pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            log::error("control: poll on ", path_, ": ", std::strerror(errno));
            return;
        }
        if (fds[1].revents) return;
        UniqueFd connection(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!connection) continue;
        ucred peer{};
        socklen_t length = sizeof peer;
        if (::getsockopt(connection.get(), SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) continue;
        if (peer.uid != ::getuid() && peer.uid != 0) {
            log::warn("control: refused a client with uid ", peer.uid, " (pid ", peer.pid, ") on ", path_);
            (void)sendMessage(connection.get(), MessageType::Error,
                              {{"message", "permission denied: uid " + std::to_string(peer.uid) +
                                               " may not control this hotgate (runs as uid " +
                                               std::to_string(::getuid()) + ")"}});
            continue;
        }
        std::lock_guard lock(connections_mutex_);
        // Reap threads of connections that have ended.
        for (auto it = connections_.begin(); it != connections_.end();) {
            if (it->first < 0 && it->second.joinable()) {
                it->second.join();
                it = connections_.erase(it);
            } else {
                ++it;
            }
        }
        const int fd = connection.get();
        connections_.emplace_back(fd, std::thread());
        auto entry = std::prev(connections_.end());
        entry->second = std::thread([this, entry, conn = std::move(connection), peer]() mutable {
            handler_(conn.get(), peer);
            std::lock_guard lock(connections_mutex_);
            entry->first = -1;  // stop() must not shut down the fd number once it is reused
            conn.reset();
        });
    }
}

}  // namespace hotgate::control

// ControlServer: the Unix socket (mode 0600) through which gwctl and a successor version talk
// to this version. Each connection is checked with SO_PEERCRED (same uid, or root) and then
// served on its own thread by the handler; a bad peer costs its own connection, nothing else.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/unique_fd.h"

namespace hotgate::control {

class ControlServer {
public:
    // Serves one connection until it ends; the server owns and closes the fd afterwards.
    using Handler = std::function<void(int connection, const ucred& peer)>;

    // Creates the socket at `path` (its directory 0700 if missing) and starts accepting. The
    // socket is bound under a temporary name and renamed into place, so a successor replaces
    // its predecessor's socket atomically. Fails if another live hotgate answers at `path`
    // unless `replace_live` (the successor taking over after commit).
    static Result<std::unique_ptr<ControlServer>> listen(const std::string& path, Handler handler,
                                                         bool replace_live = false);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Stops accepting, ends every open connection, joins the threads. Unlinks the path if it
    // still names this server's socket.
    void stop();

    const std::string& path() const { return path_; }

private:
    ControlServer(std::string path, Handler handler) : path_(std::move(path)), handler_(std::move(handler)) {}
    void acceptLoop();

    std::string path_;
    Handler handler_;
    UniqueFd listen_fd_;
    UniqueFd wake_read_;
    UniqueFd wake_write_;
    ino_t inode_ = 0;
    std::thread accept_thread_;
    std::mutex connections_mutex_;
    std::list<std::pair<int, std::thread>> connections_;  // fd (for shutdown at stop), its thread
    std::atomic<bool> stopping_{false};
};

// Connects to a control socket; fails naming the path and errno (ENOENT: no hotgate there).
Result<UniqueFd> connectControl(const std::string& path);

}  // namespace hotgate::control

// The listening side of a test server: TCP on 127.0.0.1, on a port the kernel picks, and a
// server that gives each accepted connection a thread of its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hotgate::test {

// Returns the listening fd (close-on-exec) and sets `port`; -1 (nothing left open, errno set)
// when a step fails.
int listenOnLoopback(int backlog, std::uint16_t& port);

// Writes all of `bytes` to `fd` (no SIGPIPE); false when the peer is gone.
bool sendAll(int fd, const std::string& bytes);

// A test server on 127.0.0.1: every accepted connection is served by `serve(fd)` on a thread
// of its own. `serve` should poll its fd with a short timeout and return once stopping() is
// true. stop() (also run by the destructor) stops accepting, shuts every connection down,
// joins the threads and closes the fds; owners whose `serve` reads their own state call it
// before that state goes.
class ThreadPerConnectionServer {
public:
    explicit ThreadPerConnectionServer(std::function<void(int fd)> serve);  // port() 0: bind failed
    ~ThreadPerConnectionServer() { stop(); }
    ThreadPerConnectionServer(const ThreadPerConnectionServer&) = delete;
    ThreadPerConnectionServer& operator=(const ThreadPerConnectionServer&) = delete;

    void stop();
    std::uint16_t port() const { return port_; }
    bool stopping() const { return stopping_; }
    std::uint64_t accepted() const { return accepted_; }

private:
    void acceptLoop();

    std::function<void(int)> serve_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> accepted_{0};
    std::thread acceptor_;
    std::mutex mutex_;
    std::vector<int> fds_;
    std::vector<std::thread> connections_;
};

}  // namespace hotgate::test

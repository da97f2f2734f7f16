#include "support/file_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "support/loopback_listener.h"

namespace hotgate::test {
namespace {

constexpr int kReadTimeoutMs = 5000;

bool writeAll(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// The request target of "GET /x HTTP/1.1\r\n...\r\n\r\n"; empty when none arrived in time.
std::string readTarget(int fd) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 64 * 1024) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, kReadTimeoutMs) <= 0) return {};
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return {};
        request.append(buffer, static_cast<std::size_t>(n));
    }
    const auto first_space = request.find(' ');
    const auto second_space = request.find(' ', first_space + 1);
    if (first_space == std::string::npos || second_space == std::string::npos) return {};
    return request.substr(first_space + 1, second_space - first_space - 1);
}

}  // namespace

FileServer::FileServer(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::uint16_t port = 0;
    listen_fd_ = listenOnLoopback(16, port);
    if (listen_fd_ < 0 || ::pipe2(stop_pipe_, O_CLOEXEC) != 0) return;
    port_ = port;
    thread_ = std::thread([this] { serve(); });
}

FileServer::~FileServer() {
    if (thread_.joinable()) {
        const char stop = 1;
        (void)!::write(stop_pipe_[1], &stop, 1);
        thread_.join();
    }
    for (int fd : stalled_) ::close(fd);
    for (int fd : {listen_fd_, stop_pipe_[0], stop_pipe_[1]})
        if (fd >= 0) ::close(fd);
}

std::string FileServer::url(const std::string& name) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + name;
}

void FileServer::serve() {
    while (true) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
        if (fds[1].revents != 0) return;
        if ((fds[0].revents & POLLIN) == 0) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) answer(fd);
    }
}

void FileServer::answer(int fd) {
    const std::string target = readTarget(fd);
    ++requests_;
    if (target == "/stall") {
        stalled_.push_back(fd);  // answered never; closed when the server stops
        return;
    }
    const bool with_length = target.rfind("/nolength/", 0) != 0;
    const std::string name = target.substr(with_length ? std::min<std::size_t>(1, target.size()) : 10);
    const auto file = dir_ / name;
    std::error_code ec;
    const bool found = !name.empty() && name.find('/') == std::string::npos && name != ".." &&
                       std::filesystem::is_regular_file(file, ec);
    if (!found) {
        const std::string reply = "HTTP/1.0 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n";
        writeAll(fd, reply.data(), reply.size());
        ::close(fd);
        return;
    }
    std::ifstream in(file, std::ios::binary);
    const auto size = std::filesystem::file_size(file, ec);
    const std::string head = "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n" +
                             (with_length ? "Content-Length: " + std::to_string(size) + "\r\n" : std::string()) +
                             "\r\n";
    if (writeAll(fd, head.data(), head.size())) {
        char buffer[1 << 16];
        while (in.read(buffer, sizeof buffer) || in.gcount() > 0)
            if (!writeAll(fd, buffer, static_cast<std::size_t>(in.gcount()))) break;
    }
    ::close(fd);
}

}  // namespace hotgate::test

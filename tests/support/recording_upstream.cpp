#include "support/recording_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "support/loopback_listener.h"

namespace hotgate::test {

namespace http = boost::beast::http;

struct RecordingUpstream::Impl {
    int listen_fd = -1;
    std::uint16_t port = 0;
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> accepted{0};
    std::thread acceptor;

    mutable std::mutex mutex;
    std::string log;
    std::optional<std::pair<std::string, bool>> scripted;
    std::vector<int> fds;
    std::vector<std::thread> connections;

    void acceptLoop() {
        while (!stopping) {
            pollfd p{listen_fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int fd = ::accept(listen_fd, nullptr, nullptr);
            if (fd < 0) continue;
            ++accepted;
            std::lock_guard lock(mutex);
            fds.push_back(fd);
            connections.emplace_back([this, fd] { serve(fd); });
        }
    }

    static bool sendAll(int fd, const std::string& bytes) {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return false;
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }

    // Answers every complete request on the connection; returns when it closes or on stop.
    void serve(int fd) {
        std::string pending;
        auto parser = std::make_unique<http::request_parser<http::string_body>>();
        parser->eager(true);
        char chunk[16384];
        while (!stopping) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) break;
            {
                std::lock_guard lock(mutex);
                log.append(chunk, static_cast<std::size_t>(n));
            }
            pending.append(chunk, static_cast<std::size_t>(n));
            bool close = false;
            while (!pending.empty() && !close) {
                boost::system::error_code ec;
                const std::size_t used = parser->put(boost::asio::buffer(pending), ec);
                pending.erase(0, used);
                if (ec == http::error::need_more) break;
                if (ec) {
                    close = true;  // the gateway forwarded something unparsable: the recorded bytes show it
                    break;
                }
                if (!parser->is_done()) continue;
                std::string reply;
                {
                    std::lock_guard lock(mutex);
                    if (scripted) {
                        reply = std::move(scripted->first);
                        close = scripted->second;
                        scripted.reset();
                    }
                }
                if (reply.empty()) {
                    const std::string body = "seen " + std::string(parser->get().target()) + "\n";
                    reply = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
                }
                if (!sendAll(fd, reply)) close = true;
                parser = std::make_unique<http::request_parser<http::string_body>>();
                parser->eager(true);
            }
            if (close) break;
        }
        ::shutdown(fd, SHUT_RDWR);
    }
};

RecordingUpstream::RecordingUpstream() : impl_(std::make_shared<Impl>()) {
    impl_->listen_fd = listenOnLoopback(128, impl_->port);
    if (impl_->listen_fd < 0) return;
    impl_->acceptor = std::thread([impl = impl_.get()] { impl->acceptLoop(); });
}

RecordingUpstream::~RecordingUpstream() {
    impl_->stopping = true;
    if (impl_->acceptor.joinable()) impl_->acceptor.join();
    std::vector<std::thread> connections;
    {
        std::lock_guard lock(impl_->mutex);
        for (int fd : impl_->fds) ::shutdown(fd, SHUT_RDWR);
        connections.swap(impl_->connections);
    }
    for (auto& t : connections) t.join();
    for (int fd : impl_->fds) ::close(fd);
    if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
}

std::uint16_t RecordingUpstream::port() const { return impl_->port; }

std::string RecordingUpstream::received() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->log;
}

void RecordingUpstream::clear() {
    std::lock_guard lock(impl_->mutex);
    impl_->log.clear();
}

std::uint64_t RecordingUpstream::connectionsAccepted() const { return impl_->accepted; }

void RecordingUpstream::scriptNextReply(std::string bytes, bool close_after) {
    std::lock_guard lock(impl_->mutex);
    impl_->scripted.emplace(std::move(bytes), close_after);
}

}  // namespace hotgate::test

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
    mutable std::mutex mutex;
    std::string log;
    std::optional<std::pair<std::string, bool>> scripted;
    std::optional<ThreadPerConnectionServer> server;  // last: its threads read the above

    // Answers every complete request on the connection; returns when it closes or on stop.
    void serve(int fd) {
        std::string pending;
        auto parser = std::make_unique<http::request_parser<http::string_body>>();
        parser->eager(true);
        char chunk[16384];
        while (!server->stopping()) {
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
    impl_->server.emplace([impl = impl_.get()](int fd) { impl->serve(fd); });
}

RecordingUpstream::~RecordingUpstream() { impl_->server->stop(); }

std::uint16_t RecordingUpstream::port() const { return impl_->server->port(); }

std::string RecordingUpstream::received() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->log;
}

void RecordingUpstream::clear() {
    std::lock_guard lock(impl_->mutex);
    impl_->log.clear();
}

std::uint64_t RecordingUpstream::connectionsAccepted() const { return impl_->server->accepted(); }

void RecordingUpstream::scriptNextReply(std::string bytes, bool close_after) {
    std::lock_guard lock(impl_->mutex);
    impl_->scripted.emplace(std::move(bytes), close_after);
}

}  // namespace hotgate::test

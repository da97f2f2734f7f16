#include "shadow/shadow_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include <boost/beast/http.hpp>

#include "common/poll_wait.h"
#include "common/sha256.h"

namespace hotgate::shadow {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

// A mirrored answer's body is hashed whole; a larger one is an error of the sample.
constexpr std::uint64_t kMaxAnswerBody = 16u << 20;

Answer failed(std::string why) {
    Answer answer;
    answer.error = std::move(why);
    return answer;
}

}  // namespace

Result<LoopbackPair> loopbackPair() {
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener) return sysError(errno, "shadow path: socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener.get(), 1) != 0 ||
        ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
        return sysError(errno, "shadow path: listening on 127.0.0.1");
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!client) return sysError(errno, "shadow path: socket");
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
        return sysError(errno, "shadow path: connecting to 127.0.0.1:", ntohs(address.sin_port));
    UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!server) return sysError(errno, "shadow path: accept on 127.0.0.1:", ntohs(address.sin_port));
    const int one = 1;
    ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return LoopbackPair{std::move(client), std::move(server)};
}

Answer ShadowPath::exchange(const Capture& capture, const std::vector<std::string>& fields,
                            std::chrono::milliseconds timeout) {
    if (!fd_) {
        auto opened = open_();
        if (!opened) return failed("no path to " + version_ + ": " + opened.error().message);
        fd_ = std::move(*opened);
    }
    const auto started = Clock::now();
    const auto deadline = started + timeout;
    auto give_up = [&](std::string why) {
        fd_.reset();
        return failed(std::move(why));
    };
    for (std::size_t sent = 0; sent < capture.bytes.size();) {
        if (!waitForEvents(fd_.get(), POLLOUT, deadline)) return give_up("timed out sending");
        const ssize_t n = ::send(fd_.get(), capture.bytes.data() + sent, capture.bytes.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EINTR && errno != EAGAIN) return give_up(std::string("send: ") + std::strerror(errno));
        if (n > 0) sent += static_cast<std::size_t>(n);
    }
    // A 1xx (100 Continue) is not the answer: a fresh parser reads the next head.
    std::optional<http::response_parser<http::string_body>> parser;
    auto fresh_parser = [&] {
        parser.emplace();
        parser->body_limit(kMaxAnswerBody);
        parser->header_limit(64 * 1024);
        if (capture.method == "HEAD") parser->skip(true);
    };
    fresh_parser();
    std::string pending;
    std::array<char, 16 * 1024> chunk{};
    boost::beast::error_code ec;
    for (;;) {
        while (!pending.empty() && !parser->is_done()) {
            const std::size_t used = parser->put(boost::asio::buffer(pending), ec);
            pending.erase(0, used);
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec) return give_up("malformed answer: " + ec.message());
        }
        if (parser->is_done() && parser->get().result_int() / 100 == 1) {
            fresh_parser();
            continue;
        }
        if (parser->is_done()) break;
        if (!waitForEvents(fd_.get(), POLLIN, deadline))
            return give_up("no answer within " + std::to_string(timeout.count()) + "ms");
        const ssize_t n = ::recv(fd_.get(), chunk.data(), chunk.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return give_up(std::string("recv: ") + std::strerror(errno));
        if (n == 0) {
            parser->put_eof(ec);
            if (ec || !parser->is_done()) return give_up("the connection closed before the answer ended");
            break;
        }
        pending.append(chunk.data(), static_cast<std::size_t>(n));
    }
    Answer answer;
    const auto& response = parser->get();
    answer.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    answer.status = response.result_int();
    answer.body_sha256 = sha256Hex(response.body());
    for (const auto& name : fields) answer.fields[name] = std::string(response[name]);
    if (!response.keep_alive() || !pending.empty()) fd_.reset();
    return answer;
}

}  // namespace hotgate::shadow

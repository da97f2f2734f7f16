#include "support/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace hotgate::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

int remainingMs(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// Length of a complete response (head + Content-Length body) at the start of raw, or 0 when
// incomplete or not framed by Content-Length.
std::size_t completeResponseLength(std::string_view raw) {
    auto head_end = raw.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return 0;
    std::string length = headerOf(raw, "content-length");
    std::size_t body = length.empty() ? 0 : std::stoul(length);
    std::size_t total = head_end + 4 + body;
    return raw.size() >= total ? total : 0;
}

}  // namespace

RawConnection::~RawConnection() { close(); }

bool RawConnection::connect(std::uint16_t port, std::chrono::milliseconds timeout) {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        if (errno != EINPROGRESS) return close(), false;
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return close(), false;
        int err = 0;
        socklen_t len = sizeof(err);
        if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return close(), false;
    }
    return true;
}

bool RawConnection::send(std::string_view bytes) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!bytes.empty()) {
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, remainingMs(deadline)) != 1) return false;
            continue;
        }
        return false;
    }
    return true;
}

RawReply RawConnection::readUntilClose(std::chrono::milliseconds timeout) {
    RawReply reply;
    reply.connected = fd_ >= 0;
    reply.data = std::move(pending_);
    pending_.clear();
    if (fd_ < 0) return reply;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n > 0) {
            reply.data.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) {
            reply.closed = true;
            return reply;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int left = remainingMs(deadline);
            if (left == 0) {
                reply.timed_out = true;
                return reply;
            }
            pollfd p{fd_, POLLIN, 0};
            ::poll(&p, 1, left);
            continue;
        }
        reply.closed = true;
        reply.reset = errno == ECONNRESET;
        return reply;
    }
}

RawReply RawConnection::readResponse(std::chrono::milliseconds timeout) {
    RawReply reply;
    reply.connected = fd_ >= 0;
    if (fd_ < 0) return reply;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    for (;;) {
        if (std::size_t len = completeResponseLength(pending_); len > 0) {
            reply.data = pending_.substr(0, len);
            pending_.erase(0, len);
            return reply;
        }
        ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n > 0) {
            pending_.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int left = remainingMs(deadline);
            if (left == 0) {
                reply.timed_out = true;
                break;
            }
            pollfd p{fd_, POLLIN, 0};
            ::poll(&p, 1, left);
            continue;
        }
        reply.closed = true;
        reply.reset = n < 0 && errno == ECONNRESET;
        break;
    }
    reply.data = std::move(pending_);
    pending_.clear();
    return reply;
}

bool RawConnection::peerClosed(std::chrono::milliseconds wait) {
    if (fd_ < 0) return true;
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        char c;
        ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0) return true;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
        if (n > 0) {
            // Unread data (a late response) stands between us and a possible FIN: consume it.
            char buf[4096];
            ssize_t got = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
            if (got > 0) pending_.append(buf, static_cast<std::size_t>(got));
            continue;
        }
        int left = remainingMs(deadline);
        if (left == 0) return false;
        pollfd p{fd_, POLLIN | POLLRDHUP, 0};
        ::poll(&p, 1, left);
    }
}

void RawConnection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    pending_.clear();
}

RawReply rawExchange(std::uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout) {
    RawConnection connection;
    if (!connection.connect(port)) return RawReply{};
    // A failed send is fine: the server may have answered and reset before we finished.
    connection.send(bytes);
    return connection.readUntilClose(timeout);
}

int statusOf(std::string_view raw) {
    if (raw.size() < 12 || raw.substr(0, 7) != "HTTP/1.") return -1;
    std::string code(raw.substr(9, 3));
    for (char c : code)
        if (c < '0' || c > '9') return -1;
    return std::stoi(code);
}

std::string headerOf(std::string_view raw, std::string_view name) {
    auto head_end = raw.find("\r\n\r\n");
    std::string_view head = raw.substr(0, head_end);
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos) {
        std::size_t start = pos + 2;
        std::size_t end = head.find("\r\n", start);
        std::string_view line = head.substr(start, end == std::string_view::npos ? head.npos : end - start);
        auto colon = line.find(':');
        if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) {
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
            return std::string(value);
        }
        pos = end;
    }
    return {};
}

int responseCount(std::string_view raw) {
    int count = 0;
    std::size_t pos = 0;
    while ((pos = raw.find("HTTP/1.", pos)) != std::string_view::npos) {
        if (pos == 0 || raw[pos - 1] == '\n') ++count;
        pos += 7;
    }
    return count;
}

std::string HttpResult::header(std::string_view name) const {
    auto it = response.find(name);
    return it == response.end() ? std::string() : std::string(it->value());
}

HttpClient::HttpClient(std::uint16_t port, std::chrono::milliseconds timeout)
    : port_(port), timeout_(timeout), stream_(ioc_) {}

HttpClient::~HttpClient() { close(); }

bool HttpClient::isOpen() const { return stream_.socket().is_open(); }

void HttpClient::close() {
    error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    buffer_.clear();
}

error_code HttpClient::ensureConnected() {
    // A connection the server closed while idle is replaced, like a browser would.
    if (isOpen() && !peerClosed(0ms)) return {};
    close();
    error_code result = asio::error::would_block;
    asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), port_);
    stream_.expires_after(timeout_);
    stream_.async_connect(endpoint, [&](error_code ec) { result = ec; });
    ioc_.restart();
    ioc_.run();
    if (!result) ++connects_;
    return result;
}

HttpResult HttpClient::readResponse() {
    HttpResult result;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    result.ec = asio::error::would_block;
    stream_.expires_after(timeout_);
    http::async_read(stream_, buffer_, parser, [&](error_code ec, std::size_t) { result.ec = ec; });
    ioc_.restart();
    ioc_.run();
    if (result.ec) {
        result.step = "read response";
        close();
        return result;
    }
    result.response = parser.release();
    if (!result.response.keep_alive()) close();
    return result;
}

HttpResult HttpClient::send(Request request) {
    HttpResult result;
    if ((result.ec = ensureConnected())) {
        result.step = "connect";
        return result;
    }
    if (request.find(http::field::host) == request.end())
        request.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
    request.prepare_payload();
    result.ec = asio::error::would_block;
    stream_.expires_after(timeout_);
    http::async_write(stream_, request, [&](error_code ec, std::size_t) { result.ec = ec; });
    ioc_.restart();
    ioc_.run();
    if (result.ec) {
        // The server may answer early (413, 431) and close before taking the whole request:
        // the response it sent is still worth reading.
        HttpResult early = readResponse();
        if (early.ok()) return early;
        result.step = "write request";
        close();
        return result;
    }
    return readResponse();
}

HttpResult HttpClient::get(const std::string& target, const std::map<std::string, std::string>& headers) {
    Request request{http::verb::get, target, 11};
    for (const auto& [name, value] : headers) request.set(name, value);
    return send(std::move(request));
}

HttpResult HttpClient::post(const std::string& target, std::string body,
                            const std::map<std::string, std::string>& headers) {
    Request request{http::verb::post, target, 11};
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = std::move(body);
    return send(std::move(request));
}

HttpResult HttpClient::sendRaw(std::string_view bytes) {
    HttpResult result;
    if ((result.ec = ensureConnected())) {
        result.step = "connect";
        return result;
    }
    result.ec = asio::error::would_block;
    stream_.expires_after(timeout_);
    asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                      [&](error_code ec, std::size_t) { result.ec = ec; });
    ioc_.restart();
    ioc_.run();
    if (result.ec) {
        HttpResult early = readResponse();
        if (early.ok()) return early;
        result.step = "write raw request";
        close();
        return result;
    }
    return readResponse();
}

bool HttpClient::peerClosed(std::chrono::milliseconds wait) {
    if (!isOpen()) return true;
    int fd = stream_.socket().native_handle();
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        char c;
        ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0) return true;
        if (n > 0) return false;  // data waiting: open (and unexpected bytes, left for the reader)
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
        int left = remainingMs(deadline);
        if (left == 0) return false;
        pollfd p{fd, POLLIN | POLLRDHUP, 0};
        ::poll(&p, 1, left);
    }
}

HttpResult httpGet(std::uint16_t port, const std::string& target, std::chrono::milliseconds timeout) {
    HttpClient client(port, timeout);
    return client.get(target);
}

}  // namespace hotgate::test

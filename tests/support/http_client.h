// Test clients for talking to the gateway: RawConnection sends exact bytes (smuggling tests
// need bare LF, obs-fold and conflicting framing that no HTTP library will produce) and reads
// until the peer closes; HttpClient is a Beast client holding one keep-alive connection.
// Every call is bounded by a timeout.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace hotgate::test {

using namespace std::chrono_literals;

// What came back on a raw connection.
struct RawReply {
    bool connected = false;
    std::string data;        // every byte received
    bool closed = false;     // the peer closed (FIN or RST) within the timeout
    bool reset = false;      // ... with an RST
    bool timed_out = false;  // still open at the deadline
};

// A plain blocking TCP connection to 127.0.0.1:port, for exact bytes.
class RawConnection {
public:
    RawConnection() = default;
    ~RawConnection();
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    // Connects within `timeout`; false when refused or timed out.
    bool connect(std::uint16_t port, std::chrono::milliseconds timeout = 2s);
    // Writes all bytes; false on error (e.g. the peer reset the connection).
    bool send(std::string_view bytes);
    // Reads until the peer closes or `timeout` passes, whichever first.
    RawReply readUntilClose(std::chrono::milliseconds timeout = 5s);
    // Reads until `data` holds a complete HTTP response head plus its Content-Length body (or
    // the peer closes, or `timeout`). For keep-alive connections that stay open.
    RawReply readResponse(std::chrono::milliseconds timeout = 5s);
    // True when the peer has closed (EOF or RST) within `wait`, without consuming data.
    bool peerClosed(std::chrono::milliseconds wait);
    void close();
    int fd() const { return fd_; }

private:
    int fd_ = -1;
    std::string pending_;  // bytes read but not yet returned
};

// Connect, send `bytes`, read until close or timeout.
RawReply rawExchange(std::uint16_t port, std::string_view bytes, std::chrono::milliseconds timeout = 5s);

// The status code of the first response in raw bytes ("HTTP/1.1 NNN ..."), or -1.
int statusOf(std::string_view raw);
// The value of header `name` (case-insensitive) in the first response head in raw, or "".
std::string headerOf(std::string_view raw, std::string_view name);
// The number of response status lines in raw (counts "HTTP/1." at line starts).
int responseCount(std::string_view raw);

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct HttpResult {
    boost::system::error_code ec;
    std::string step;  // what failed: "connect", "write", "read"
    Response response;

    bool ok() const { return !ec; }
    std::string error() const { return step + ": " + ec.message(); }
    unsigned status() const { return response.result_int(); }
    std::string header(std::string_view name) const;
};

// One HTTP/1.1 connection to 127.0.0.1:port, reused across send() while the server keeps it
// alive; reconnects when it had been closed.
class HttpClient {
public:
    explicit HttpClient(std::uint16_t port, std::chrono::milliseconds timeout = 15s);
    ~HttpClient();

    // Sends `request` (Host defaulted, payload prepared) and reads one response.
    HttpResult send(Request request);
    HttpResult get(const std::string& target, const std::map<std::string, std::string>& headers = {});
    HttpResult post(const std::string& target, std::string body,
                    const std::map<std::string, std::string>& headers = {});
    // Writes raw bytes (e.g. a hand-built chunked request) and reads one response.
    HttpResult sendRaw(std::string_view bytes);

    // True when the server has closed this connection within `wait` (data is not consumed).
    bool peerClosed(std::chrono::milliseconds wait);
    bool isOpen() const;
    // TCP connections this client opened so far (1 when every request reused the first).
    int connects() const { return connects_; }
    void close();

private:
    boost::system::error_code ensureConnected();
    HttpResult readResponse();

    std::uint16_t port_;
    std::chrono::milliseconds timeout_;
    boost::asio::io_context ioc_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    int connects_ = 0;
};

// One request on a fresh connection.
HttpResult httpGet(std::uint16_t port, const std::string& target, std::chrono::milliseconds timeout = 10s);

}  // namespace hotgate::test

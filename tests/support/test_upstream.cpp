#include "support/test_upstream.h"

#include <sys/socket.h>

#include <atomic>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "support/fnv1a.h"

namespace hotgate::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;

namespace {

using RequestParser = http::request_parser<http::buffer_body>;

constexpr std::size_t kReadPiece = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// Value of `key` in a query string "a=1&b=2", or `fallback`.
long queryValue(std::string_view query, std::string_view key, long fallback) {
    while (!query.empty()) {
        auto amp = query.find('&');
        auto pair = query.substr(0, amp);
        auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == key) {
            try {
                return std::stol(std::string(pair.substr(eq + 1)));
            } catch (...) {
                return fallback;
            }
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return fallback;
}

// Reads the rest of the request body in pieces, handing each to sink(data, size).
template <class Sink>
awaitable<error_code> readBody(tcp::socket& socket, beast::flat_buffer& buffer, RequestParser& parser, Sink sink) {
    std::vector<char> piece(kReadPiece);
    while (!parser.is_done()) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        error_code ec;
        co_await http::async_read(socket, buffer, parser, redirect_error(use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) co_return ec;
        std::size_t n = piece.size() - parser.get().body().size;
        if (n > 0) sink(piece.data(), n);
    }
    co_return error_code{};
}

awaitable<error_code> respond(tcp::socket& socket, unsigned status, std::string body, bool keep_alive,
                              std::string_view content_type = "text/plain") {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "hotgate-test-upstream");
    res.set(http::field::content_type, content_type);
    bool bodyless = status < 200 || status == 204 || status == 304;
    if (!bodyless) res.body() = std::move(body);
    res.keep_alive(keep_alive);
    if (!bodyless) res.prepare_payload();
    error_code ec;
    co_await http::async_write(socket, res, redirect_error(use_awaitable, ec));
    co_return ec;
}

}  // namespace

std::vector<std::string> TestUpstream::SeenRequest::values(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) out.push_back(v);
    return out;
}

struct TestUpstream::Impl {
    // Declared before io_context: coroutine frames destroyed with the io_context unregister
    // their sockets from here.
    std::set<tcp::socket*> open_sockets;  // only touched on the io_context thread
    std::atomic<std::uint64_t> connections{0};
    std::atomic<std::uint64_t> headers_seen{0};
    std::atomic<std::uint64_t> completed{0};
    mutable std::mutex seen_mutex;
    std::vector<SeenRequest> seen;
    std::uint16_t port = 0;

    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
    std::optional<tcp::acceptor> acceptor;
    std::thread thread;

    // Registers a socket for closeConnections() for as long as its session runs.
    struct Registration {
        Impl& impl;
        tcp::socket* socket;
        Registration(Impl& i, tcp::socket* s) : impl(i), socket(s) { impl.open_sockets.insert(s); }
        ~Registration() { impl.open_sockets.erase(socket); }
    };

    void runOnThread(std::function<void()> fn) {
        std::promise<void> done;
        auto fut = done.get_future();
        asio::post(ioc, [&] {
            fn();
            done.set_value();
        });
        fut.wait_for(std::chrono::seconds(10));
    }

    awaitable<void> acceptLoop() {
        for (;;) {
            error_code ec;
            tcp::socket socket = co_await acceptor->async_accept(redirect_error(use_awaitable, ec));
            if (ec) {
                if (!acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
                continue;
            }
            ++connections;
            asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
        }
    }

    void record(const RequestParser& parser) {
        const auto& req = parser.get();
        SeenRequest seen_request;
        seen_request.method = std::string(req.method_string());
        seen_request.target = std::string(req.target());
        for (const auto& field : req)
            seen_request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        std::lock_guard lock(seen_mutex);
        seen.push_back(std::move(seen_request));
    }

    awaitable<void> session(tcp::socket socket) {
        Registration registration(*this, &socket);
        beast::flat_buffer buffer;
        for (;;) {
            RequestParser parser;
            // Not boost::none: Beast 1.74 compares the length against the empty optional and
            // fails every request with a body.
            parser.body_limit(std::numeric_limits<std::uint64_t>::max());
            parser.header_limit(256 * 1024);
            error_code ec;
            co_await http::async_read_header(socket, buffer, parser, redirect_error(use_awaitable, ec));
            if (ec) co_return;
            ++headers_seen;
            record(parser);

            const auto& req = parser.get();
            bool keep_alive = req.keep_alive();
            std::string target(req.target());
            std::string_view path = target;
            std::string_view query;
            if (auto q = path.find('?'); q != std::string_view::npos) {
                query = path.substr(q + 1);
                path = path.substr(0, q);
            }

            if (path == "/ws" && websocket::is_upgrade(req)) {
                http::request<http::empty_body> upgrade(req.base());
                co_await websocketEcho(std::move(socket), std::move(upgrade));
                co_return;
            }
            if (path == "/reset") {
                // The abortive close is the point: the gateway must see a reset, not an answer.
                socket.set_option(asio::socket_base::linger(true, 0), ec);
                socket.close(ec);
                co_return;
            }
            if (path == "/echo") {
                if (!co_await echo(socket, buffer, parser, keep_alive)) co_return;
            } else if (path == "/hash") {
                Fnv1a64 digest;
                ec = co_await readBody(socket, buffer, parser,
                                       [&](const char* d, std::size_t n) { digest.update(d, n); });
                if (ec) co_return;
                ++completed;
                if (co_await respond(socket, 200, digest.summary() + "\n", keep_alive)) co_return;
            } else {
                ec = co_await readBody(socket, buffer, parser, [](const char*, std::size_t) {});
                if (ec) co_return;
                ++completed;
                if (path == "/halfheader") {
                    static const std::string half = "HTTP/1.1 200 OK\r\nContent-Le";
                    co_await asio::async_write(socket, asio::buffer(half), redirect_error(use_awaitable, ec));
                    socket.shutdown(tcp::socket::shutdown_both, ec);
                    socket.close(ec);
                    co_return;
                }
                if (path == "/chunked") {
                    if (!co_await chunked(socket, queryValue(query, "n", 4), queryValue(query, "size", 1024),
                                          keep_alive))
                        co_return;
                } else if (path == "/slow") {
                    asio::steady_timer timer(ioc, std::chrono::milliseconds(queryValue(query, "ms", 1000)));
                    co_await timer.async_wait(redirect_error(use_awaitable, ec));
                    if (co_await respond(socket, 200, "slow\n", keep_alive)) co_return;
                } else if (path == "/headers") {
                    std::string body;
                    for (const auto& field : req)
                        body += std::string(field.name_string()) + ": " + std::string(field.value()) + "\n";
                    if (co_await respond(socket, 200, body, keep_alive)) co_return;
                } else if (path.substr(0, 8) == "/status/") {
                    unsigned status = static_cast<unsigned>(std::atoi(std::string(path.substr(8)).c_str()));
                    if (status < 100 || status > 599) status = 400;
                    if (co_await respond(socket, status, "status " + std::to_string(status) + "\n", keep_alive))
                        co_return;
                } else if (path == "/close") {
                    co_await respond(socket, 200, "closing\n", false);
                    keep_alive = false;
                } else if (path == "/interim") {
                    static const std::string kInterim[] = {
                        "HTTP/1.1 100 Continue\r\n\r\n",
                        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"};
                    const int n = queryValue(query, "n", 1);
                    for (int i = 0; i < n && !ec; ++i)
                        co_await asio::async_write(socket, asio::buffer(kInterim[i % 2]),
                                                   redirect_error(use_awaitable, ec));
                    if (ec) co_return;
                    if (co_await respond(socket, 200, "final\n", keep_alive)) co_return;
                } else {
                    if (co_await respond(socket, 200, "ok " + std::string(path) + "\n", keep_alive)) co_return;
                }
            }
            if (!keep_alive) {
                socket.shutdown(tcp::socket::shutdown_send, ec);
                co_return;
            }
        }
    }

    // Streams the body back while it is still arriving: a reader coroutine queues pieces, this
    // one writes them. Reading never waits for writing, so a proxy that only reads the response
    // after sending the whole request cannot deadlock against us. Returns false when the
    // connection must be dropped.
    awaitable<bool> echo(tcp::socket& socket, beast::flat_buffer& buffer, RequestParser& parser, bool keep_alive) {
        struct Pipe {
            std::deque<std::string> pieces;
            bool reader_done = false;
            error_code reader_ec;
            asio::steady_timer wake;
            explicit Pipe(asio::io_context& ioc) : wake(ioc) {}
        } pipe(ioc);

        http::response<http::empty_body> res{http::status::ok, 11};
        res.set(http::field::server, "hotgate-test-upstream");
        res.set(http::field::content_type, "application/octet-stream");
        bool chunked = !parser.content_length().has_value() && !parser.is_done();
        if (chunked)
            res.chunked(true);
        else
            res.content_length(parser.content_length().value_or(0));
        res.keep_alive(keep_alive);

        asio::co_spawn(
            ioc,
            [&]() -> awaitable<void> {
                pipe.reader_ec = co_await readBody(socket, buffer, parser, [&](const char* d, std::size_t n) {
                    pipe.pieces.emplace_back(d, n);
                    pipe.wake.cancel();
                });
                // Last thing the reader does: after this the echo frame may be gone.
                pipe.reader_done = true;
                pipe.wake.cancel();
            },
            asio::detached);

        error_code ec;
        http::response_serializer<http::empty_body> serializer{res};
        co_await http::async_write_header(socket, serializer, redirect_error(use_awaitable, ec));
        for (;;) {
            if (pipe.pieces.empty()) {
                // Only the reader's end ends the loop: its frame refers to ours.
                if (pipe.reader_done) break;
                pipe.wake.expires_at(asio::steady_timer::time_point::max());
                error_code wait_ec;
                co_await pipe.wake.async_wait(redirect_error(use_awaitable, wait_ec));
                continue;
            }
            std::string piece = std::move(pipe.pieces.front());
            pipe.pieces.pop_front();
            if (ec) continue;  // write side failed: keep draining until the reader stops
            if (chunked)
                co_await asio::async_write(socket, http::make_chunk(asio::buffer(piece)),
                                           redirect_error(use_awaitable, ec));
            else
                co_await asio::async_write(socket, asio::buffer(piece), redirect_error(use_awaitable, ec));
            if (ec) {
                error_code ignored;
                socket.close(ignored);  // wakes the reader with an error
            }
        }
        if (ec || pipe.reader_ec) co_return false;
        ++completed;
        if (chunked) {
            co_await asio::async_write(socket, http::make_chunk_last(), redirect_error(use_awaitable, ec));
            if (ec) co_return false;
        }
        co_return true;
    }

    awaitable<bool> chunked(tcp::socket& socket, long n, long size, bool keep_alive) {
        http::response<http::empty_body> res{http::status::ok, 11};
        res.set(http::field::server, "hotgate-test-upstream");
        res.set(http::field::content_type, "application/octet-stream");
        res.chunked(true);
        res.keep_alive(keep_alive);
        error_code ec;
        http::response_serializer<http::empty_body> serializer{res};
        co_await http::async_write_header(socket, serializer, redirect_error(use_awaitable, ec));
        if (ec) co_return false;
        for (long i = 0; i < n; ++i) {
            std::string piece(static_cast<std::size_t>(size), static_cast<char>('a' + i % 26));
            co_await asio::async_write(socket, http::make_chunk(asio::buffer(piece)), redirect_error(use_awaitable, ec));
            if (ec) co_return false;
        }
        co_await asio::async_write(socket, http::make_chunk_last(), redirect_error(use_awaitable, ec));
        co_return !ec;
    }

    awaitable<void> websocketEcho(tcp::socket socket, http::request<http::empty_body> upgrade) {
        websocket::stream<tcp::socket> ws(std::move(socket));
        Registration registration(*this, &ws.next_layer());
        ws.read_message_max(64 * 1024 * 1024);
        error_code ec;
        co_await ws.async_accept(upgrade, redirect_error(use_awaitable, ec));
        if (ec) co_return;
        ++completed;
        beast::flat_buffer message;
        for (;;) {
            co_await ws.async_read(message, redirect_error(use_awaitable, ec));
            if (ec) co_return;
            ws.text(ws.got_text());
            co_await ws.async_write(message.data(), redirect_error(use_awaitable, ec));
            if (ec) co_return;
            message.consume(message.size());
        }
    }
};

TestUpstream::TestUpstream() : impl_(std::make_unique<Impl>()) {
    error_code ec;
    auto& acceptor = impl_->acceptor.emplace(impl_->ioc);
    tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) impl_->port = acceptor.local_endpoint(ec).port();
    if (ec) impl_->port = 0;
    if (impl_->port != 0) asio::co_spawn(impl_->ioc, impl_->acceptLoop(), asio::detached);
    impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

TestUpstream::~TestUpstream() {
    stopListening();
    impl_->work.reset();
    impl_->ioc.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
    impl_->acceptor.reset();
}

std::uint16_t TestUpstream::port() const { return impl_->port; }
std::uint64_t TestUpstream::connectionsAccepted() const { return impl_->connections.load(); }
std::size_t TestUpstream::connectionsOpen() const {
    std::size_t open = 0;
    impl_->runOnThread([&open, impl = impl_.get()] { open = impl->open_sockets.size(); });
    return open;
}

std::uint64_t TestUpstream::requestHeadersSeen() const { return impl_->headers_seen.load(); }
std::uint64_t TestUpstream::requestsCompleted() const { return impl_->completed.load(); }

std::vector<TestUpstream::SeenRequest> TestUpstream::requests() const {
    std::lock_guard lock(impl_->seen_mutex);
    return impl_->seen;
}

std::optional<TestUpstream::SeenRequest> TestUpstream::lastRequest() const {
    std::lock_guard lock(impl_->seen_mutex);
    if (impl_->seen.empty()) return std::nullopt;
    return impl_->seen.back();
}

void TestUpstream::stopListening() {
    impl_->runOnThread([impl = impl_.get()] {
        error_code ec;
        if (impl->acceptor) impl->acceptor->close(ec);
        for (auto* socket : impl->open_sockets) socket->close(ec);
    });
}

void TestUpstream::closeConnections() {
    impl_->runOnThread([impl = impl_.get()] {
        error_code ec;
        for (auto* socket : impl->open_sockets) socket->close(ec);
    });
}

}  // namespace hotgate::test

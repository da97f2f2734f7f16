#include "support/test_upstream.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
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
#include "support/test_upstream_io.h"

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

using upstream_io::queryParam;
using upstream_io::queryValue;
using upstream_io::readBody;
using upstream_io::RequestParser;
using upstream_io::respond;
using upstream_io::respondChunked;

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// Closes abortively (SO_LINGER 0, so an RST): the gateway must see a reset, not an answer.
void resetConnection(tcp::socket& socket) {
    error_code ec;
    socket.set_option(asio::socket_base::linger(true, 0), ec);
    socket.close(ec);
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
    // their sockets and timers from here.
    std::set<tcp::socket*> open_sockets;         // only touched on the io_context thread
    std::set<asio::steady_timer*> waits;         // pause()s in progress; io_context thread only
    std::map<std::string, long> flaky_requests;  // /flaky requests per key; io_context thread only
    std::atomic<std::chrono::milliseconds::rep> delay_ms{0};
    std::atomic<unsigned> forced_status{0};
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

    // Keeps `object` in `set` (for closeConnections()) for as long as it lives.
    template <class T>
    struct Registration {
        std::set<T*>& set;
        T* object;
        Registration(std::set<T*>& s, T* o) : set(s), object(o) { set.insert(o); }
        ~Registration() { set.erase(object); }
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

    // Waits `duration` without blocking other sessions; closeConnections() cuts it short.
    awaitable<void> pause(std::chrono::milliseconds duration) {
        if (duration <= std::chrono::milliseconds::zero()) co_return;
        asio::steady_timer timer(ioc, duration);
        Registration registration(waits, &timer);
        error_code ec;
        co_await timer.async_wait(redirect_error(use_awaitable, ec));
    }
    std::chrono::milliseconds responseDelay() const { return std::chrono::milliseconds(delay_ms.load()); }

    // Counts a /flaky request; true while it is among the first `fail` of its key.
    bool flakyFails(std::string_view query) {
        long seen = ++flaky_requests[std::string(queryParam(query, "key").value_or(""))];
        return seen <= queryValue(query, "fail", 1);
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
        Registration registration(open_sockets, &socket);
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
            const unsigned forced = path == "/ws" ? 0 : forced_status.load();
            if (forced == 0 && path == "/echo") {
                if (!co_await echo(socket, buffer, parser, keep_alive)) co_return;
            } else {
                const bool hashing = forced == 0 && path == "/hash";
                Fnv1a64 digest;
                ec = co_await readBody(socket, buffer, parser, [&](const char* d, std::size_t n) {
                    if (hashing) digest.update(d, n);
                });
                if (ec) co_return;
                const auto delay = responseDelay();  // before ++completed: later setters miss this request
                ++completed;
                if (forced == 0 && (path == "/reset" || (path == "/flaky" && flakyFails(query)))) {
                    resetConnection(socket);
                    co_return;
                }
                co_await pause(delay);
                if (forced != 0) {
                    if (co_await respond(socket, forced, "forced " + std::to_string(forced) + "\n", keep_alive))
                        co_return;
                } else if (hashing) {
                    if (co_await respond(socket, 200, digest.summary() + "\n", keep_alive)) co_return;
                } else if (path == "/flaky") {
                    if (co_await respond(socket, 200, "flaky ok\n", keep_alive)) co_return;
                } else if (path == "/halfheader") {
                    static const std::string half = "HTTP/1.1 200 OK\r\nContent-Le";
                    co_await asio::async_write(socket, asio::buffer(half), redirect_error(use_awaitable, ec));
                    socket.shutdown(tcp::socket::shutdown_both, ec);
                    socket.close(ec);
                    co_return;
                } else if (path == "/chunked") {
                    if (co_await respondChunked(socket, queryValue(query, "n", 4), queryValue(query, "size", 1024),
                                                keep_alive))
                        co_return;
                } else if (path == "/slow") {
                    co_await pause(std::chrono::milliseconds(queryValue(query, "ms", 1000)));
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

        co_await pause(responseDelay());
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

    awaitable<void> websocketEcho(tcp::socket socket, http::request<http::empty_body> upgrade) {
        websocket::stream<tcp::socket> ws(std::move(socket));
        Registration registration(open_sockets, &ws.next_layer());
        ws.read_message_max(64 * 1024 * 1024);
        co_await pause(responseDelay());
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

std::uint64_t TestUpstream::requestsTo(const std::string& target_prefix) const {
    std::lock_guard lock(impl_->seen_mutex);
    return static_cast<std::uint64_t>(std::count_if(impl_->seen.begin(), impl_->seen.end(), [&](const SeenRequest& r) {
        return r.target.starts_with(target_prefix);
    }));
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
        for (auto* timer : impl->waits) timer->cancel();
    });
}

void TestUpstream::closeConnections() {
    impl_->runOnThread([impl = impl_.get()] {
        error_code ec;
        for (auto* socket : impl->open_sockets) socket->close(ec);
        for (auto* timer : impl->waits) timer->cancel();
    });
}

void TestUpstream::setResponseDelay(std::chrono::milliseconds delay) { impl_->delay_ms = delay.count(); }

void TestUpstream::setForcedStatus(unsigned status) {
    if (status != 0 && (status < 200 || status > 599))
        throw std::invalid_argument("forced status must be 0 or 200..599: " + std::to_string(status));
    impl_->forced_status = status;
}

}  // namespace hotgate::test

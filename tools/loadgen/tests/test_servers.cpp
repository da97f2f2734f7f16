#include "test_servers.h"

#include "asio_names.h"

namespace hotgate::loadgen::test {

struct TestServer::Impl {
    explicit Impl(ServerBehavior b)
        : behavior(b), acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), b.port)) {}

    std::string nextVersion() { return served++ < behavior.switch_after ? "A" : "B"; }

    awaitable<void> acceptLoop() {
        for (;;) {
            error_code ec;
            tcp::socket socket = co_await acceptor.async_accept(withError(ec));
            if (ec) co_return;
            asio::co_spawn(io, httpSession(std::move(socket)), asio::detached);
        }
    }

    awaitable<void> httpSession(tcp::socket socket) {
        error_code ec;
        if (behavior.kind == ServerBehavior::Kind::kResetMidRequest) {
            char some[8];
            co_await asio::async_read(socket, asio::buffer(some), withError(ec));
            socket.set_option(asio::socket_base::linger(true, 0), ec);  // close() now sends RST
            socket.close(ec);
            co_return;
        }
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buffer;
        unsigned answered = 0;
        for (;;) {
            http::request<http::string_body> request;
            if (behavior.idle_close_ms && answered > 0) {
                // tcp_stream closes the socket on expiry: a plain FIN to an idle client.
                stream.expires_after(std::chrono::milliseconds(behavior.idle_close_ms));
            } else {
                stream.expires_never();
            }
            co_await http::async_read(stream, buffer, request, withError(ec));
            if (ec) break;
            stream.expires_never();
            const bool echo = behavior.kind == ServerBehavior::Kind::kWebSocketEcho ||
                              (behavior.kind == ServerBehavior::Kind::kHttp && behavior.echo_websockets);
            if (echo && websocket::is_upgrade(request)) {
                co_await webSocketSession(std::move(stream), std::move(request));
                co_return;
            }
            if (behavior.kind == ServerBehavior::Kind::kWebSocketEcho) break;
            if (behavior.kind == ServerBehavior::Kind::kCloseOnRequest) break;
            if (behavior.kind == ServerBehavior::Kind::kSilent) {
                // Hold the connection open, unanswered, until the client gives up.
                co_await http::async_read(stream, buffer, request, withError(ec));
                break;
            }
            ++answered;
            http::response<http::string_body> response{static_cast<http::status>(behavior.status), 11};
            response.set("x-hotgate-version", nextVersion());
            response.body() = "ok\n";
            const bool last = behavior.close_every && answered % behavior.close_every == 0;
            response.keep_alive(request.keep_alive() && !last);
            response.prepare_payload();
            co_await http::async_write(stream, response, withError(ec));
            if (ec || !response.keep_alive()) break;
        }
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        // Wait for the client's FIN (bounded) so it is the one left in TIME_WAIT, not us.
        stream.expires_after(std::chrono::seconds(2));
        char byte;
        co_await stream.async_read_some(asio::buffer(&byte, 1), withError(ec));
        stream.socket().close(ec);
    }

    awaitable<void> webSocketSession(beast::tcp_stream stream, http::request<http::string_body> upgrade) {
        websocket::stream<beast::tcp_stream> ws(std::move(stream));
        const std::string version = nextVersion();
        ws.set_option(websocket::stream_base::decorator(
            [version](websocket::response_type& response) { response.set("x-hotgate-version", version); }));
        error_code ec;
        co_await ws.async_accept(upgrade, withError(ec));
        if (ec) co_return;
        beast::flat_buffer buffer;
        for (unsigned n = 0;; ++n) {
            if (behavior.close_after_messages && n == behavior.close_after_messages) {
                co_await ws.async_close(websocket::close_code::going_away, withError(ec));
                co_return;
            }
            co_await ws.async_read(buffer, withError(ec));
            if (ec) co_return;
            std::string message = beast::buffers_to_string(buffer.data());
            buffer.consume(buffer.size());
            if (echoed++ == behavior.corrupt_message && !message.empty()) message.back() ^= 0x20;
            ws.binary(ws.got_binary());
            co_await ws.async_write(asio::buffer(message), withError(ec));
            if (ec) co_return;
        }
    }

    const ServerBehavior behavior;
    asio::io_context io{1};
    tcp::acceptor acceptor;
    std::atomic<std::uint64_t> served{0};
    std::int64_t echoed = 0;
    std::thread thread;
};

TestServer::TestServer(ServerBehavior behavior) : impl_(std::make_unique<Impl>(behavior)) {
    port_ = impl_->acceptor.local_endpoint().port();
    asio::co_spawn(impl_->io, impl_->acceptLoop(), asio::detached);
    impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

TestServer::~TestServer() {
    impl_->io.stop();
    impl_->thread.join();
}

std::uint64_t TestServer::responses() const { return impl_->served.load(); }

std::uint16_t unusedPort() {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    return acceptor.local_endpoint().port();
}

}  // namespace hotgate::loadgen::test

#include "support/websocket_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace hotgate::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;

struct WebSocketClient::Impl {
    std::uint16_t port;
    std::chrono::milliseconds timeout;
    asio::io_context ioc;
    websocket::stream<asio::ip::tcp::socket> ws{ioc};
    websocket::response_type response;

    // Runs the operation started by `start` until it completes or the timeout passes; on
    // timeout the socket is closed so the operation completes with an error.
    template <class Start>
    error_code run(Start start) {
        error_code result = asio::error::would_block;
        bool done = false;
        start([&](error_code ec) {
            result = ec;
            done = true;
        });
        ioc.restart();
        ioc.run_for(timeout);
        if (!done) {
            error_code ignored;
            ws.next_layer().close(ignored);
            ioc.restart();
            ioc.run_for(std::chrono::seconds(2));
            return asio::error::timed_out;
        }
        return result;
    }
};

WebSocketClient::WebSocketClient(std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
    impl_->port = port;
    impl_->timeout = timeout;
    impl_->ws.read_message_max(64 * 1024 * 1024);
}

WebSocketClient::~WebSocketClient() {
    error_code ignored;
    impl_->ws.next_layer().close(ignored);
}

bool WebSocketClient::handshake(const std::string& target) {
    asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), impl_->port);
    auto ec = impl_->run([&](auto done) { impl_->ws.next_layer().async_connect(endpoint, done); });
    if (ec) return error_ = "connect: " + ec.message(), false;
    std::string host = "127.0.0.1:" + std::to_string(impl_->port);
    ec = impl_->run([&](auto done) { impl_->ws.async_handshake(impl_->response, host, target, done); });
    if (ec) return error_ = "handshake: " + ec.message(), false;
    return true;
}

const Response& WebSocketClient::handshakeResponse() const { return impl_->response; }

bool WebSocketClient::send(const std::string& message, bool binary) {
    impl_->ws.binary(binary);
    auto ec = impl_->run([&](auto done) {
        impl_->ws.async_write(asio::buffer(message), [done](error_code e, std::size_t) { done(e); });
    });
    if (ec) return error_ = "write: " + ec.message(), false;
    return true;
}

bool WebSocketClient::receive(std::string& message, bool& binary) {
    beast::flat_buffer buffer;
    auto ec = impl_->run([&](auto done) {
        impl_->ws.async_read(buffer, [done](error_code e, std::size_t) { done(e); });
    });
    if (ec) return error_ = "read: " + ec.message(), false;
    message = beast::buffers_to_string(buffer.data());
    binary = impl_->ws.got_binary();
    return true;
}

bool WebSocketClient::close() {
    auto ec = impl_->run([&](auto done) { impl_->ws.async_close(websocket::close_code::normal, done); });
    if (ec) return error_ = "close: " + ec.message(), false;
    return true;
}

}  // namespace hotgate::test

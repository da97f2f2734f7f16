// ClientStream: the client side of a connection, plain TCP or TLS, behind one type, so the HTTP
// code (Beast's read/write algorithms, the tunnel) is written once. The TCP socket stays
// reachable for what only it can do: cancel (deadlines), shutdown, options, release (hand-off).
#pragma once

#include <memory>
#include <utility>

#include <boost/asio/ssl/stream.hpp>

#include "proxy/asio.h"
#include "tls/server_contexts.h"

namespace hotgate {

class ClientStream {
public:
    using executor_type = tcp::socket::executor_type;
    using TlsStream = asio::ssl::stream<tcp::socket&>;

    explicit ClientStream(tcp::socket socket) : socket_(std::move(socket)) {}
    // TLS: the handshake (handshake()) must complete before the first read or write. The
    // context set is kept alive as long as the connection.
    ClientStream(tcp::socket socket, std::shared_ptr<const tls::ServerContexts> contexts)
        : socket_(std::move(socket)),
          contexts_(std::move(contexts)),
          tls_(std::make_unique<TlsStream>(socket_, contexts_->defaultContext())) {}

    ClientStream(const ClientStream&) = delete;
    ClientStream& operator=(const ClientStream&) = delete;

    executor_type get_executor() { return socket_.get_executor(); }
    tcp::socket& socket() { return socket_; }
    bool isTls() const { return tls_ != nullptr; }
    // TLS only: the OpenSSL connection (session reuse, negotiated protocol).
    SSL* ssl() { return tls_->native_handle(); }

    template <typename Token>
    auto handshake(Token&& token) {
        return tls_->async_handshake(asio::ssl::stream_base::server, std::forward<Token>(token));
    }

    // TLS only: sends close_notify without waiting for the peer's. Without it an OpenSSL 3
    // client sees an "unexpected EOF", treats it as an error and drops the session, so it could
    // not resume (NGINX closes the same way).
    template <typename Token>
    auto sendCloseNotify(Token&& token) {
        SSL_set_shutdown(tls_->native_handle(), SSL_RECEIVED_SHUTDOWN);
        return tls_->async_shutdown(std::forward<Token>(token));
    }

    // AsyncReadStream / AsyncWriteStream. Both branches return the same type for a given token
    // (awaitable<size_t> for coroutine tokens, void for Beast's internal handlers).
    template <typename Buffers, typename Token>
    auto async_read_some(const Buffers& buffers, Token&& token) {
        if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
        return socket_.async_read_some(buffers, std::forward<Token>(token));
    }
    template <typename Buffers, typename Token>
    auto async_write_some(const Buffers& buffers, Token&& token) {
        if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
        return socket_.async_write_some(buffers, std::forward<Token>(token));
    }

private:
    tcp::socket socket_;
    std::shared_ptr<const tls::ServerContexts> contexts_;
    std::unique_ptr<TlsStream> tls_;
};

}  // namespace hotgate

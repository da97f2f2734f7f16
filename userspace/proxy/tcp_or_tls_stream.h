// TcpOrTlsStream: one side of a proxied exchange, plain TCP or TLS, behind one type, so the HTTP
// code (Beast's read/write algorithms, the tunnel) is written once for clients and upstreams.
// Client side: TLS from the start (server handshake). Upstream side: TLS added after the TCP
// connect (client handshake). The TCP socket stays reachable for what only it can do: cancel
// (deadlines), shutdown, options, release (hand-off).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <boost/asio/ssl/stream.hpp>

#include "proxy/asio.h"
#include "tls/server_contexts.h"

namespace hotgate {

class TcpOrTlsStream {
public:
    using executor_type = tcp::socket::executor_type;
    using TlsStream = asio::ssl::stream<tcp::socket&>;

    explicit TcpOrTlsStream(tcp::socket socket) : socket_(std::move(socket)) {}
    explicit TcpOrTlsStream(const asio::any_io_executor& executor) : socket_(executor) {}
    // Client side, TLS: the handshake (handshake()) must complete before the first read or write.
    // The context set is kept alive as long as the connection.
    TcpOrTlsStream(tcp::socket socket, std::shared_ptr<const tls::ServerContexts> contexts)
        : socket_(std::move(socket)),
          server_contexts_(std::move(contexts)),
          tls_(std::make_unique<TlsStream>(socket_, server_contexts_->defaultContext())) {}

    TcpOrTlsStream(const TcpOrTlsStream&) = delete;
    TcpOrTlsStream& operator=(const TcpOrTlsStream&) = delete;

    // Upstream side, after the TCP connect: TLS with `context` (kept alive with the stream),
    // sending `server_name` as SNI and requiring the certificate to match it when non-empty.
    // Then handshake() as a client.
    void startClientTls(std::shared_ptr<asio::ssl::context> context, const std::string& server_name) {
        client_context_ = std::move(context);
        tls_ = std::make_unique<TlsStream>(socket_, *client_context_);  // inherits the context's verify mode
        if (!server_name.empty()) {
            SSL_set_tlsext_host_name(tls_->native_handle(), server_name.c_str());
            SSL_set1_host(tls_->native_handle(), server_name.c_str());
        }
        client_ = true;
    }

    executor_type get_executor() { return socket_.get_executor(); }
    tcp::socket& socket() { return socket_; }
    bool isTls() const { return tls_ != nullptr; }
    // TLS only: the OpenSSL connection (session reuse, negotiated protocol).
    SSL* ssl() { return tls_->native_handle(); }

    template <typename Token>
    auto handshake(Token&& token) {
        return tls_->async_handshake(client_ ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
                                     std::forward<Token>(token));
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
    std::shared_ptr<const tls::ServerContexts> server_contexts_;
    std::shared_ptr<asio::ssl::context> client_context_;
    std::unique_ptr<TlsStream> tls_;
    bool client_ = false;
};

}  // namespace hotgate

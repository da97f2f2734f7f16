#include "support/tls_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "tls/certificate.h"

namespace hotgate::test {
namespace {

// The queued OpenSSL errors; never empty, so a message always says something.
std::string opensslError() {
    const std::string text = tls::drainOpensslErrors();
    return text.empty() ? "unknown TLS error" : text;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

}  // namespace

TlsClient::TlsClient() {
    ctx_ = SSL_CTX_new(TLS_client_method());
    // The test keeps sessions itself (a client cache would be flushed, and its sessions marked
    // not resumable, when the context is freed).
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
}

TlsClient::~TlsClient() {
    close();
    SSL_CTX_free(ctx_);
}

void TlsClient::close() {
    if (ssl_) {
        SSL_shutdown(ssl_);  // a clean close keeps the session resumable
        SSL_free(ssl_);
        ssl_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool TlsClient::connect(std::uint16_t port, const std::string& sni, const std::string& ca_file, TlsSession resume,
                        std::chrono::milliseconds timeout) {
    close();
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
        error_ = "load CA " + ca_file + ": " + opensslError();
        return false;
    }
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        error_ = std::string("connect: ") + std::strerror(errno);
        close();
        return false;
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    host_ = sni.empty() ? "127.0.0.1" : sni;
    if (!sni.empty()) {
        SSL_set_tlsext_host_name(ssl_, sni.c_str());
        SSL_set1_host(ssl_, sni.c_str());
    }
    static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_set_alpn_protos(ssl_, kAlpn, sizeof kAlpn);
    if (resume) SSL_set_session(ssl_, resume.get());
    if (SSL_connect(ssl_) != 1) {
        error_ = "TLS handshake: " + opensslError();
        SSL_free(ssl_);
        ssl_ = nullptr;
        close();
        return false;
    }
    return true;
}

TlsResponse TlsClient::get(const std::string& path) {
    TlsResponse response;
    if (!ssl_) {
        response.error = "not connected";
        return response;
    }
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host_ + "\r\n\r\n";
    if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) {
        response.error = "write: " + opensslError();
        return response;
    }
    std::string data;
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    char buffer[16384];
    for (;;) {
        if (header_end == std::string::npos) {
            header_end = data.find("\r\n\r\n");
            if (header_end != std::string::npos) {
                const std::string head = lower(data.substr(0, header_end));
                if (auto at = head.find("\r\ncontent-length:"); at != std::string::npos)
                    content_length = std::stoul(head.substr(at + 17));
                auto header = [&](const std::string& name) {
                    const auto at = head.find("\r\n" + name + ":");
                    if (at == std::string::npos) return std::string();
                    const auto start = head.find_first_not_of(' ', at + 3 + name.size());
                    return data.substr(start, head.find("\r\n", start) - start);
                };
                response.version = header("x-hotgate-version");
                response.connection = lower(header("connection"));
                response.status = std::atoi(data.c_str() + 9);
            }
        }
        if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) break;
        const int n = SSL_read(ssl_, buffer, sizeof buffer);
        if (n <= 0) {
            response.error = "read: " + (SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN ? "closed by the server" : opensslError());
            return response;
        }
        data.append(buffer, static_cast<std::size_t>(n));
    }
    response.body = data.substr(header_end + 4, content_length);
    response.ok = true;
    return response;
}

bool TlsClient::getUntilClosedCleanly(const std::string& path, std::string& error) {
    if (!ssl_) {
        error = "not connected";
        return false;
    }
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host_ + "\r\nConnection: close\r\n\r\n";
    if (SSL_write(ssl_, request.data(), static_cast<int>(request.size())) <= 0) {
        error = "write: " + opensslError();
        return false;
    }
    char buffer[16384];
    int n;
    while ((n = SSL_read(ssl_, buffer, sizeof buffer)) > 0) {
    }
    const int reason = SSL_get_error(ssl_, n);
    if (reason == SSL_ERROR_ZERO_RETURN) return true;
    error = reason == SSL_ERROR_SSL ? "TLS error at close: " + opensslError() : "closed without close_notify";
    return false;
}

std::string TlsClient::peerSerial() const {
    if (!ssl_) return {};
    X509* peer = SSL_get1_peer_certificate(ssl_);
    if (!peer) return {};
    const std::string serial = tls::serialHex(peer);
    X509_free(peer);
    return serial;
}

bool TlsClient::resumed() const { return ssl_ && SSL_session_reused(ssl_) == 1; }

TlsSession TlsClient::session() const {
    if (!ssl_) return nullptr;
    SSL_SESSION* session = SSL_get1_session(ssl_);
    return session ? TlsSession(session, SSL_SESSION_free) : nullptr;
}

}  // namespace hotgate::test

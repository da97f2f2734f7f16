// TlsClient: a blocking TLS client for integration tests (OpenSSL on a 127.0.0.1 socket): SNI,
// verification against the test CA, session resumption with a kept session, and plain HTTP/1.1
// requests on the connection, so a test sees what a real client sees (the certificate's serial,
// whether the session was resumed, which version answered).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <openssl/ssl.h>

namespace hotgate::test {

using TlsSession = std::shared_ptr<SSL_SESSION>;

struct TlsResponse {
    bool ok = false;
    std::string error;
    int status = 0;
    std::string version;     // x-hotgate-version
    std::string connection;  // Connection header, lower case
    std::string body;
};

class TlsClient {
public:
    TlsClient();
    ~TlsClient();
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    // Connects and completes the handshake; false with error() set otherwise. `sni` empty: no
    // SNI and no name check (the chain is still verified against `ca_file`).
    bool connect(std::uint16_t port, const std::string& sni, const std::string& ca_file, TlsSession resume = nullptr,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // One GET on this connection (keep-alive); reads the whole response (Content-Length bodies).
    TlsResponse get(const std::string& path);
    // A GET with Connection: close, read until the server closes. True when the server ended
    // the TLS session cleanly (close_notify), not by a bare TCP close; `error` says which.
    bool getUntilClosedCleanly(const std::string& path, std::string& error);

    const std::string& error() const { return error_; }
    std::string peerSerial() const;  // lower-case hex
    bool resumed() const;
    // The session to resume with later; call after a request, when TLS 1.3 tickets have arrived.
    TlsSession session() const;
    void close();

private:
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    int fd_ = -1;
    std::string host_;
    std::string error_;
};

}  // namespace hotgate::test

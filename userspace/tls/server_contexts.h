// ServerContexts: the TLS server contexts of one listener: one per configured certificate, the
// first being the default for clients that send no SNI or an unknown name. Immutable once built;
// a certificate reload builds a new set beside the old and swaps it in (TlsListener), so a
// handshake always completes with the set it started with and established connections never
// notice.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "common/error.h"
#include "tls/certificate.h"
#include "tls/ticket_keys.h"

namespace hotgate::tls {

// ALPN protocol lists in wire format (RFC 7301 3.1), in the server's order of preference.
inline constexpr std::string_view kAlpnHttp11{"\x08http/1.1", 9};
inline constexpr std::string_view kAlpnH2{"\x02h2", 3};

struct ServerContextOptions {
    std::vector<CertificateSource> certificates;  // [0] is the default
    std::string alpn{kAlpnHttp11};                // the protocols offered, in preference order
};

// One certificate and the context that serves it.
struct ServerContextEntry {
    Certificate certificate;
    boost::asio::ssl::context context;
};

class ServerContexts {
public:
    // Loads and checks every certificate (all problems reported, one per line), then builds one
    // context each: TLS 1.2 and 1.3, forward-secret AEAD ciphers only, ALPN from options, the chain
    // served, session tickets from `tickets` (which must outlive the set). Nothing is built on
    // any error.
    static Result<std::shared_ptr<const ServerContexts>> build(const ServerContextOptions& options,
                                                               TicketKeyStore& tickets);
    ~ServerContexts();
    ServerContexts(const ServerContexts&) = delete;
    ServerContexts& operator=(const ServerContexts&) = delete;

    // The context a new connection's TLS stream is made with (the default certificate); the SNI
    // callback moves the handshake to the certificate for the name the client asked for.
    boost::asio::ssl::context& defaultContext() const { return entries_.front()->context; }
    const std::vector<std::unique_ptr<ServerContextEntry>>& entries() const { return entries_; }

private:
    ServerContexts() = default;
    static int onServerName(SSL* ssl, int* alert, void* arg);
    static int selectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                          unsigned int in_len, void* arg);
    ServerContextEntry& choose(std::string_view server_name) const;

    std::vector<std::unique_ptr<ServerContextEntry>> entries_;
    std::string alpn_;
};

}  // namespace hotgate::tls

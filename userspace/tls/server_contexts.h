// ServerContexts: the TLS server contexts of one listener: one per configured certificate, the
// first being the default for clients that send no SNI or an unknown name. Immutable once built;
// a certificate reload builds a new set beside the old and swaps it in (TlsListener), so a
// handshake always completes with the set it started with and established connections never
// notice.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "common/error.h"
#include "tls/certificate.h"
#include "tls/ticket_keys.h"

namespace hotgate::tls {

struct ServerContextOptions {
    std::vector<CertificateSource> certificates;  // [0] is the default
};

// One certificate and the context that serves it.
struct ServerContextEntry {
    Certificate certificate;
    boost::asio::ssl::context context;
};

class ServerContexts {
public:
    // Loads and checks every certificate (all problems reported, one per line), then builds one
    // context each: TLS 1.2 and 1.3, forward-secret AEAD ciphers only, ALPN http/1.1, the chain
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
    ServerContextEntry& choose(std::string_view server_name) const;

    std::vector<std::unique_ptr<ServerContextEntry>> entries_;
};

}  // namespace hotgate::tls

#include "tls/server_contexts.h"

#include <cstring>

#include <openssl/ssl.h>

namespace hotgate::tls {
namespace {

namespace ssl = boost::asio::ssl;

// TLS 1.2 suites with forward secrecy and AEAD only (Mozilla "intermediate"); TLS 1.3 keeps
// OpenSSL's defaults, which are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Result<void> configure(ServerContextEntry& entry, TicketKeyStore& tickets) {
    SSL_CTX* ctx = entry.context.native_handle();
    const std::string& file = entry.certificate.source().certificate_file;
    auto failed = [&](const char* what) {
        return fail("TLS context for ", file, ": ", what, ": ", drainOpensslErrors());
    };
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return failed("minimum protocol");
    if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) return failed("cipher list");
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate(ctx, entry.certificate.leaf()) != 1) return failed("certificate");
    for (const X509Ptr& link : entry.certificate.chain())
        if (SSL_CTX_add1_chain_cert(ctx, link.get()) != 1) return failed("chain certificate");
    if (SSL_CTX_use_PrivateKey(ctx, entry.certificate.key()) != 1) return failed("private key");
    if (SSL_CTX_check_private_key(ctx) != 1) return failed("key does not match certificate");
    static const unsigned char kSessionContext[] = "hotgate";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    return tickets.attachTo(ctx);
}

}  // namespace

ServerContexts::~ServerContexts() = default;

Result<std::shared_ptr<const ServerContexts>> ServerContexts::build(const ServerContextOptions& options,
                                                                    TicketKeyStore& tickets) {
    if (options.certificates.empty()) return fail("TLS: no certificate configured");
    std::shared_ptr<ServerContexts> set(new ServerContexts());
    std::string problems;
    for (const CertificateSource& source : options.certificates) {
        auto certificate = Certificate::load(source);
        if (!certificate) {
            problems += (problems.empty() ? "" : "\n") + certificate.error().message;
            continue;
        }
        set->entries_.push_back(std::unique_ptr<ServerContextEntry>(
            new ServerContextEntry{std::move(*certificate), ssl::context(ssl::context::tls_server)}));
    }
    if (!problems.empty()) return fail(problems);
    set->alpn_ = options.alpn;
    for (auto& entry : set->entries_) {
        if (auto configured = configure(*entry, tickets); !configured) return tl::unexpected(configured.error());
        // Every context carries the callback: SNI is read on the context the handshake began on.
        SSL_CTX_set_tlsext_servername_callback(entry->context.native_handle(), &ServerContexts::onServerName);
        SSL_CTX_set_tlsext_servername_arg(entry->context.native_handle(), set.get());
        SSL_CTX_set_alpn_select_cb(entry->context.native_handle(), &ServerContexts::selectAlpn, set.get());
    }
    return std::shared_ptr<const ServerContexts>(std::move(set));
}

ServerContextEntry& ServerContexts::choose(std::string_view server_name) const {
    // Exact names win over wildcards, then configuration order.
    for (const auto& entry : entries_)
        for (const std::string& name : entry->certificate.names())
            if (name == server_name) return *entry;
    for (const auto& entry : entries_)
        if (entry->certificate.serves(server_name)) return *entry;
    return *entries_.front();
}

int ServerContexts::onServerName(SSL* ssl, int*, void* arg) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_NOACK;  // no SNI: the default certificate
    std::string lowered(name);
    for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ServerContextEntry& entry = static_cast<const ServerContexts*>(arg)->choose(lowered);
    if (SSL_get_SSL_CTX(ssl) != entry.context.native_handle())
        SSL_set_SSL_CTX(ssl, entry.context.native_handle());
    return SSL_TLSEXT_ERR_OK;
}

// ALPN: the listener's protocols, the server's preference first. A client that offers ALPN
// without any of them gets the RFC 7301 alert rather than a connection in a protocol it did not
// ask for.
int ServerContexts::selectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                               unsigned int in_len, void* arg) {
    const std::string& offered = static_cast<const ServerContexts*>(arg)->alpn_;
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_len, reinterpret_cast<const unsigned char*>(offered.data()),
                              static_cast<unsigned int>(offered.size()), in, in_len) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace hotgate::tls

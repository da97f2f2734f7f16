#include "tls/tls_listener.h"

#include "tls/upstream_context.h"

namespace hotgate::tls {

ServerContextOptions TlsListener::optionsOf(const ListenerTlsConfig& config) {
    ServerContextOptions options;
    for (const auto& cert : config.certificates) options.certificates.push_back({cert.certificate_file, cert.key_file, cert.sni});
    return options;
}

std::string TlsListener::alpnOf(const std::vector<HttpProtocol>& protocols) {
    std::string alpn;
    for (const HttpProtocol protocol : protocols) alpn += protocol == HttpProtocol::H2 ? kAlpnH2 : kAlpnHttp11;
    return alpn;
}

ServerContextOptions TlsListener::optionsWithAlpn(const ListenerTlsConfig& config) const {
    auto options = optionsOf(config);
    options.alpn = alpn_;
    return options;
}

Result<std::unique_ptr<TlsListener>> TlsListener::create(std::string listener, const ListenerTlsConfig& config,
                                                         TicketKeyStore& tickets, std::string alpn) {
    std::unique_ptr<TlsListener> tls(new TlsListener(std::move(listener), tickets, std::move(alpn)));
    if (auto loaded = tls->reload(config); !loaded) return tl::unexpected(loaded.error());
    return tls;
}

Result<void> TlsListener::reload() {
    std::lock_guard lock(reload_mutex_);
    auto built = ServerContexts::build(optionsWithAlpn(config_), tickets_);
    if (!built) return fail("listener ", listener_, ": TLS: ", built.error().message);
    contexts_.store(std::move(*built));
    return {};
}

Result<void> TlsListener::reload(const ListenerTlsConfig& config) {
    std::lock_guard lock(reload_mutex_);
    auto built = ServerContexts::build(optionsWithAlpn(config), tickets_);
    if (!built) return fail("listener ", listener_, ": TLS: ", built.error().message);
    config_ = config;
    contexts_.store(std::move(*built));
    return {};
}

std::vector<CertificateStatus> TlsListener::status() const {
    std::vector<CertificateStatus> out;
    const auto contexts = current();
    if (!contexts) return out;
    for (const auto& entry : contexts->entries())
        out.push_back({entry->certificate.source().certificate_file, entry->certificate.serialHex(),
                       entry->certificate.names(), entry->certificate.notAfter()});
    return out;
}

std::vector<std::string> certificateProblems(const Config& config) {
    std::vector<std::string> problems;
    if (!config.tls.session_ticket_keys.empty())
        if (auto keys = TicketKeyRing::loadFile(config.tls.session_ticket_keys); !keys) problems.push_back(keys.error().message);
    for (const auto& listener : config.listeners) {
        if (!listener.tls) continue;
        const auto options = TlsListener::optionsOf(*listener.tls);
        for (std::size_t i = 0; i < options.certificates.size(); ++i)
            if (auto loaded = Certificate::load(options.certificates[i]); !loaded)
                problems.push_back("listeners[" + listener.name + "].tls.certificates[" + std::to_string(i) +
                    "]: " + loaded.error().message);
    }
    for (const auto& cluster : config.clusters)
        if (cluster.tls)
            if (auto context = makeUpstreamContext(cluster.name, *cluster.tls); !context)
                problems.push_back("clusters[" + cluster.name + "].tls: " + context.error().message);
    return problems;
}

}  // namespace hotgate::tls

// TlsListener: the TLS state of one listener in one process: the current certificate contexts,
// swapped atomically when the certificates are reloaded. A handshake takes the set current when
// the connection was accepted and keeps it; reloading never touches established connections.
// A reload that fails (bad file, key mismatch, expired) changes nothing and says why.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "tls/server_contexts.h"
#include "tls/ticket_keys.h"

namespace hotgate::tls {

// What /status and the expiry gauge show of one served certificate (never key material).
struct CertificateStatus {
    std::string file;
    std::string serial;
    std::vector<std::string> names;
    std::chrono::system_clock::time_point not_after;
};

class TlsListener {
public:
    // Builds the contexts from the listener's TLS config; fails with every certificate problem.
    // `alpn`: the protocols offered (ServerContextOptions::alpn), fixed for the listener's life.
    static Result<std::unique_ptr<TlsListener>> create(std::string listener, const ListenerTlsConfig& config,
                                                       TicketKeyStore& tickets, std::string alpn);

    std::shared_ptr<const ServerContexts> current() const { return contexts_.load(); }

    // Re-reads the certificate files (same config, or `config` when given) and swaps the new set
    // in; on failure the current set keeps serving and the error names the file and reason.
    Result<void> reload();
    Result<void> reload(const ListenerTlsConfig& config);

    std::vector<CertificateStatus> status() const;
    const std::string& listener() const { return listener_; }

    static ServerContextOptions optionsOf(const ListenerTlsConfig& config);
    // The ALPN list of a listener speaking `protocols`, in their order.
    static std::string alpnOf(const std::vector<HttpProtocol>& protocols);

private:
    TlsListener(std::string listener, TicketKeyStore& tickets, std::string alpn)
        : listener_(std::move(listener)), tickets_(tickets), alpn_(std::move(alpn)) {}
    ServerContextOptions optionsWithAlpn(const ListenerTlsConfig& config) const;
    std::string listener_;
    TicketKeyStore& tickets_;
    std::string alpn_;
    std::mutex reload_mutex_;  // one reload at a time; handshakes never take it
    ListenerTlsConfig config_;
    std::atomic<std::shared_ptr<const ServerContexts>> contexts_;
};

// Loads every certificate of every TLS listener of `config`, the ticket key file and the CA files
// of TLS clusters, without using them: every problem, each naming its config path and file. For
// --check-config and the config engine's pre-check. Empty: all load.
std::vector<std::string> certificateProblems(const Config& config);

}  // namespace hotgate::tls

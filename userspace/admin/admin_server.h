// AdminServer: the operator's HTTP endpoint (127.0.0.1:9901 by default), on its own thread so
// that it answers even when the workers are saturated: /metrics, /healthz, /status.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "admin/peer_metrics.h"
#include "common/error.h"
#include "config/config.h"
#include "proxy/asio.h"

namespace hotgate {

class Gateway;

class AdminServer {
public:
    // Binds the admin address; fails with the address and errno. With a `control_socket`,
    // /metrics also carries the hotgate_http_* series of every other version beside it
    // (admin/peer_metrics.h), and this version serves its own to them.
    static Result<std::unique_ptr<AdminServer>> start(const SocketAddress& address, Gateway& gateway,
                                                      const std::string& control_socket = {});
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    void stop();

    // The body and status of one admin request (exposed for tests).
    struct Reply {
        unsigned status = 200;
        std::string content_type = "text/plain";
        std::string body;
    };
    static Reply handle(Gateway& gateway, std::string_view target);

    // At exit, after the last request: leaves this version's final hotgate_http_* counts to the
    // versions after it, then stops serving them (no-op without a control socket).
    void leaveFinalMetrics();

private:
    AdminServer(Gateway& gateway) : gateway_(gateway), acceptor_(io_) {}
    awaitable<void> acceptLoop();
    awaitable<void> serve(tcp::socket socket);
    std::vector<std::string> peerMetrics() const;

    Gateway& gateway_;
    std::string control_socket_;  // empty: no metrics across versions
    std::unique_ptr<PeerMetricsServer> peer_metrics_;
    asio::io_context io_{1};
    tcp::acceptor acceptor_;
    std::thread thread_;
};

}  // namespace hotgate

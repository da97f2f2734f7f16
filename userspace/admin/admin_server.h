// AdminServer: the operator's HTTP endpoint (127.0.0.1:9901 by default), on its own thread so
// that it answers even when the workers are saturated: /metrics, /healthz, /status.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/error.h"
#include "config/config.h"
#include "proxy/asio.h"

namespace hotgate {

class Gateway;

class AdminServer {
public:
    // Binds the admin address; fails with the address and errno.
    static Result<std::unique_ptr<AdminServer>> start(const SocketAddress& address, Gateway& gateway);
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

private:
    AdminServer(Gateway& gateway) : gateway_(gateway), acceptor_(io_) {}
    awaitable<void> acceptLoop();
    awaitable<void> serve(tcp::socket socket);

    Gateway& gateway_;
    asio::io_context io_{1};
    tcp::acceptor acceptor_;
    std::thread thread_;
};

}  // namespace hotgate

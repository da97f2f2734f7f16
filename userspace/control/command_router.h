// CommandRouter: the control socket's front (control/protocol.h). It listens on the socket,
// reads each connection's request and hands it to its handler: upgrade commands and a
// successor's Hello to the UpgradeController, config requests to the ConfigEngine, TLS
// requests to the Gateway, Status to the controller. One request, one reply, per connection
// (a Hello keeps its connection as the link to the successor).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "common/error.h"
#include "control/control_server.h"
#include "control/messages.h"

namespace hotgate {
class Gateway;
}

namespace hotgate::control {

class ConfigEngine;
class UpgradeController;
struct Message;

class CommandRouter {
public:
    CommandRouter(Gateway& gateway, UpgradeController& upgrades, std::string control_path);
    ~CommandRouter();
    CommandRouter(const CommandRouter&) = delete;
    CommandRouter& operator=(const CommandRouter&) = delete;

    // Starts answering on the control socket; `replace_live`: a successor taking it over.
    // Fails after stop().
    Result<void> listen(bool replace_live = false);

    // Where config messages (ConfigApply, ...) go; without one they are refused.
    void setConfigEngine(ConfigEngine* engine) { config_engine_ = engine; }

    // Stops listening and ends every open connection.
    void stop();

private:
    void serveConnection(int fd, const ucred& peer);
    Reply configRequest(const Message& message);
    Reply reloadCertificates();
    Reply rotateTicketKey();
    Reply reopenLogs();  // gwctl logs reopen: every access log file

    Gateway& gateway_;
    UpgradeController& upgrades_;
    const std::string control_path_;
    std::atomic<ConfigEngine*> config_engine_{nullptr};
    std::mutex mutex_;
    std::unique_ptr<ControlServer> server_;
    bool stopped_ = false;
};

}  // namespace hotgate::control

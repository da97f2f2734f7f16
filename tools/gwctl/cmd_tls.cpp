// gwctl certs reload / gwctl tls rotate-ticket-key: TLS operations on the running version,
// through its control socket. Neither touches established connections.
#include <iostream>

#include "commands.h"
#include "outcome.h"
#include "control_client.h"

namespace gwctl {
namespace {

using hotgate::control::MessageType;

int runTlsRequest(const GlobalOptions& global, MessageType type, const std::string& verb) {
    auto reply = controlRequest(global.control_socket, type);
    if (!reply) failReaching(verb, reply.error());
    const auto& payload = reply->payload;
    const std::string message = payload.value("message", std::string());
    if (reply->type != MessageType::Ok) {
        // The running version keeps its current certificates and keys; say so with the reason.
        std::cerr << "gwctl " << verb << ": refused, nothing changed:\n" << (message.empty() ? "refused" : message) << "\n";
        return 1;
    }
    if (global.json()) {
        std::cout << payload.dump(2) << "\n";
        return 0;
    }
    std::cout << message << "\n";
    if (payload.contains("tls"))
        for (const auto& listener : payload["tls"].value("listeners", nlohmann::json::array()))
            for (const auto& cert : listener.value("certificates", nlohmann::json::array())) {
                std::cout << "  " << listener.value("listener", std::string()) << ": serial " << cert.value("serial", std::string())
                          << " names";
                for (const auto& name : cert.value("names", nlohmann::json::array())) std::cout << " " << name.get<std::string>();
                std::cout << " (" << cert.value("file", std::string()) << ")\n";
            }
    if (payload.contains("session_ticket_keys")) {
        std::cout << "  session ticket keys (first encrypts):";
        for (const auto& key : payload["session_ticket_keys"]) std::cout << " " << key.get<std::string>();
        std::cout << "\n";
    }
    return 0;
}

}  // namespace

void addTlsCommands(CLI::App& app, GlobalOptions& global) {
    auto* certs = app.add_subcommand("certs", "TLS certificates of the running version");
    certs->require_subcommand(1);
    certs->add_subcommand("reload", "re-read every TLS listener's certificate and key files; a bad file changes nothing")
        ->callback([&global] {
            if (const int rc = runTlsRequest(global, MessageType::CertsReload, "certs reload")) throw CLI::RuntimeError(rc);
        });
    auto* tls = app.add_subcommand("tls", "TLS session tickets of the running version");
    tls->require_subcommand(1);
    tls->add_subcommand("rotate-ticket-key",
                        "put a fresh session ticket key first; older keys still decrypt until dropped")
        ->callback([&global] {
            if (const int rc = runTlsRequest(global, MessageType::RotateTicketKey, "tls rotate-ticket-key"))
                throw CLI::RuntimeError(rc);
        });
}

}  // namespace gwctl

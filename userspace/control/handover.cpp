#include "control/handover.h"

#include <unistd.h>

#include "proxy/gateway.h"

namespace hotgate::control {

using namespace std::chrono_literals;

Result<ReceivedHandover> requestHandover(PeerLink& link, const std::string& version, const std::string& config_hash) {
    if (auto sent = link.send(MessageType::Hello, Hello{version, ::getpid(), config_hash}.toJson()); !sent)
        return tl::unexpected(sent.error());
    auto reply = link.receive(10s);
    if (!reply) return fail("no handover from the running version: ", reply.error().message);
    if (reply->type == MessageType::Error)
        return fail("the running version refused the upgrade: ", reply->payload.value("message", std::string("?")));
    if (reply->type != MessageType::Handover)
        return fail("expected Handover from the running version, got ",
                    messageTypeName(static_cast<std::uint16_t>(reply->type)));
    auto about = Handover::fromJson(reply->payload);
    if (!about) return tl::unexpected(about.error());
    ReceivedHandover received{std::move(*about), {}, {}};
    std::size_t next_fd = 0;
    for (const auto& listener : received.about.listeners) {
        if (next_fd + listener.fd_count > reply->fds.size()) return fail("Handover announced more fds than it carried");
        std::vector<UniqueFd> fds;
        for (std::size_t i = 0; i < listener.fd_count; ++i) fds.push_back(std::move(reply->fds[next_fd++]));
        received.listeners.emplace_back(listener.name, std::move(fds));
    }
    if (received.about.protection_fds != 0) {
        if (received.about.protection_fds != 2 || next_fd + 2 > reply->fds.size())
            return fail("Handover announced ", received.about.protection_fds, " protection fds; expected 2, carried ",
                        reply->fds.size() - next_fd);
        received.protection.rate_buckets = std::move(reply->fds[next_fd++]);
        received.protection.breakers = std::move(reply->fds[next_fd++]);
    }
    return received;
}

Result<void> sendHandover(PeerLink& link, const Gateway& gateway) {
    const auto& context = gateway.context();
    Handover handover{context.version(),
                      ::getpid(),
                      context.config()->hash,
                      gateway.dataplane().mode,
                      gateway.dataplane().slot.value_or(0),
                      {},
                      gateway.ticketKeysForHandover()};
    std::vector<int> fds;
    for (const auto& [name, listener_fds] : gateway.handoverFds()) {
        handover.listeners.push_back({name, listener_fds.size()});
        fds.insert(fds.end(), listener_fds.begin(), listener_fds.end());
    }
    const auto protection = gateway.protectionFds();
    handover.protection_fds = protection.size();
    fds.insert(fds.end(), protection.begin(), protection.end());
    return link.send(MessageType::Handover, handover.toJson(), fds);
}

}  // namespace hotgate::control

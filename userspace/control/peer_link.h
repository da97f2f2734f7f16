// PeerLink: the long-lived control connection between a version and its successor. Sends are
// serialized (workers hand connections over concurrently with heartbeats and commands);
// receives happen on one thread only.
#pragma once

#include <mutex>
#include <string>

#include "common/unique_fd.h"
#include "control/fd_passing.h"
#include "control/upgrade_ports.h"

namespace hotgate::control {

class PeerLink final : public PeerChannel {
public:
    explicit PeerLink(UniqueFd fd) : fd_(std::move(fd)) {}

    Result<void> send(MessageType type, const nlohmann::json& payload, std::span<const int> fds = {}) {
        std::lock_guard lock(send_mutex_);
        return sendMessage(fd_.get(), type, payload, fds);
    }
    Result<void> send(const PeerMessage& message) override { return send(messageType(message), toJson(message)); }
    Result<Message> receive(std::chrono::milliseconds timeout) { return receiveMessage(fd_.get(), timeout); }

    bool sendConnection(int fd, const std::string& listener, const std::string& buffered) override;

    // Unblocks a receive() in progress on another thread (the link is then unusable).
    void shutdown();

private:
    UniqueFd fd_;
    std::mutex send_mutex_;
};

}  // namespace hotgate::control

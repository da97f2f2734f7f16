// PeerLink: the long-lived control connection between a version and its successor. Sends are
// serialized (workers hand connections over concurrently with heartbeats and commands);
// receives happen on one thread only.
#pragma once

#include <mutex>
#include <string>

#include "common/base64.h"
#include "common/unique_fd.h"
#include "control/fd_passing.h"

namespace hotgate::control {

class PeerLink {
public:
    explicit PeerLink(UniqueFd fd) : fd_(std::move(fd)) {}

    Result<void> send(MessageType type, const nlohmann::json& payload, std::span<const int> fds = {}) {
        std::lock_guard lock(send_mutex_);
        return sendMessage(fd_.get(), type, payload, fds);
    }
    Result<Message> receive(std::chrono::milliseconds timeout) { return receiveMessage(fd_.get(), timeout); }

    // Sends a keep-alive client connection (AdoptConnection + the fd). Returns false on failure.
    bool sendConnection(int fd, const std::string& listener, const std::string& buffered);

    // Unblocks a receive() in progress on another thread (the link is then unusable).
    void shutdown();

private:
    UniqueFd fd_;
    std::mutex send_mutex_;
};


}  // namespace hotgate::control

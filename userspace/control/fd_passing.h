// Frames of the control protocol (protocol.h) over a Unix stream socket, with file
// descriptors passed by SCM_RIGHTS. Blocking I/O bounded by a timeout on every call.
#pragma once

#include <chrono>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/unique_fd.h"
#include "control/protocol.h"

namespace hotgate::control {

struct Message {
    MessageType type = MessageType::Error;
    nlohmann::json payload = nlohmann::json::object();
    std::vector<UniqueFd> fds;
};

// Sends one frame; `fds` are duplicated into the receiver (the caller keeps its own).
Result<void> sendMessage(int socket, MessageType type, const nlohmann::json& payload, std::span<const int> fds = {});

// Receives one frame, waiting at most `timeout` for it to start and to complete. Errors name
// what was wrong with the frame ("bad magic", "protocol version 7, expected 1", "payload of
// 5000000 bytes exceeds 1048576", "truncated frame", "payload is not a JSON object").
// errnum is 0 for a malformed frame, ECONNRESET/EPIPE-like for a closed peer, ETIMEDOUT.
Result<Message> receiveMessage(int socket, std::chrono::milliseconds timeout);

// A connected pair, for tests and for talking to a child.
Result<std::pair<UniqueFd, UniqueFd>> socketPair();

}  // namespace hotgate::control

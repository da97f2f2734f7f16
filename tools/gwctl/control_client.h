// One request over hotgate's control socket, for gwctl: send it, return the reply.
#pragma once

#include <string>

#include "common/error.h"
#include "control/fd_passing.h"

namespace gwctl {

// Sends `type` with an empty payload and returns the reply. An Error reply is returned as a
// message too; only transport failures are errors ("no hotgate answers on PATH: ...").
hotgate::Result<hotgate::control::Message> controlRequest(const std::string& socket_path,
                                                          hotgate::control::MessageType type,
                                                          const nlohmann::json& payload = nlohmann::json::object(),
                                                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace gwctl

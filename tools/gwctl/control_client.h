// One request over hotgate's control socket, for gwctl: send it, return the reply.
#pragma once

#include <iosfwd>
#include <string>

#include "common/error.h"
#include "control/fd_passing.h"

namespace gwctl {

struct GlobalOptions;

// Sends `type` with an empty payload and returns the reply. An Error reply is returned as a
// message too; only transport failures are errors ("no hotgate answers on PATH: ...").
hotgate::Result<hotgate::control::Message> controlRequest(const std::string& socket_path,
                                                          hotgate::control::MessageType type,
                                                          const nlohmann::json& payload = nlohmann::json::object(),
                                                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Sends `type` with an empty payload to the running version; not reaching it or a refusal ends
// gwctl ("gwctl <verb>: ...", outcome.h). Returns the reply's payload.
nlohmann::json sendSimple(const GlobalOptions& global, hotgate::control::MessageType type, const char* verb);

// The reply of a command as text: its message, and the write time of a control entry.
void printReply(const nlohmann::json& reply, std::ostream& out);

// sendSimple, then prints the reply (as text, or the payload with --output json); returns 0.
int runSimple(const GlobalOptions& global, hotgate::control::MessageType type, const char* verb);

}  // namespace gwctl

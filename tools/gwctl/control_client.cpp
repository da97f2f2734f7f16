#include "control_client.h"

#include <cerrno>

#include "control/control_server.h"

namespace gwctl {

hotgate::Result<hotgate::control::Message> controlRequest(const std::string& socket_path,
                                                          hotgate::control::MessageType type,
                                                          const nlohmann::json& payload,
                                                          std::chrono::milliseconds timeout) {
    using namespace hotgate;
    auto fd = control::connectControl(socket_path);
    if (!fd && (fd.error().errnum == EACCES || fd.error().errnum == EPERM))
        return fail("the control socket ", socket_path,
                    " is for the gateway's user: run gwctl as that user (or with sudo); ", fd.error().message);
    if (!fd) return fail("no hotgate answers on ", socket_path, ": ", fd.error().message);
    if (auto sent = control::sendMessage(fd->get(), type, payload); !sent)
        return tl::unexpected(sent.error());
    auto reply = control::receiveMessage(fd->get(), timeout);
    if (!reply) return fail("hotgate on ", socket_path, " did not answer: ", reply.error().message);
    return reply;
}

}  // namespace gwctl

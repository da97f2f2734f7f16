#include "control_client.h"

#include <cerrno>
#include <iostream>

#include "commands.h"
#include "control/control_server.h"
#include "outcome.h"

namespace gwctl {

hotgate::Result<hotgate::control::Message> controlRequest(const std::string& socket_path,
                                                          hotgate::control::MessageType type,
                                                          const nlohmann::json& payload,
                                                          std::chrono::milliseconds timeout) {
    using namespace hotgate;
    // errnum says which failure it was (outcome.h): EACCES the socket refused our user; any
    // other, hotgate could not be reached.
    const auto failure = [](int errnum, std::string message) {
        return tl::unexpected(Error{std::move(message), errnum});
    };
    auto fd = control::connectControl(socket_path);
    if (!fd && (fd.error().errnum == EACCES || fd.error().errnum == EPERM))
        return failure(EACCES, "the control socket " + socket_path +
                                   " is for the gateway's user: run gwctl as that user (or with sudo); " +
                                   fd.error().message);
    if (!fd)
        return failure(fd.error().errnum ? fd.error().errnum : ECONNREFUSED,
                       "no hotgate answers on " + socket_path + ": " + fd.error().message);
    if (auto sent = control::sendMessage(fd->get(), type, payload); !sent)
        return failure(sent.error().errnum ? sent.error().errnum : EPIPE,
                       "hotgate on " + socket_path + " closed the connection: " + sent.error().message);
    auto reply = control::receiveMessage(fd->get(), timeout);
    if (!reply)
        return failure(reply.error().errnum ? reply.error().errnum : ETIMEDOUT,
                       "hotgate on " + socket_path + " did not answer: " + reply.error().message);
    return reply;
}

nlohmann::json sendSimple(const GlobalOptions& global, hotgate::control::MessageType type, const char* verb) {
    auto reply = controlRequest(global.control_socket, type);
    if (!reply) failReaching(verb, reply.error());
    const auto message = reply->payload.value("message", std::string());
    if (reply->type != hotgate::control::MessageType::Ok) failWith(verb, message.empty() ? "refused" : message);
    return reply->payload;
}

void printReply(const nlohmann::json& reply, std::ostream& out) {
    out << reply.value("message", std::string());
    if (reply.contains("write_us")) out << " (control entry written in " << reply["write_us"].get<long>() << " us)";
    out << "\n";
}

int runSimple(const GlobalOptions& global, hotgate::control::MessageType type, const char* verb) {
    const auto reply = sendSimple(global, type, verb);
    if (global.json())
        std::cout << reply.dump(2) << "\n";
    else
        printReply(reply, std::cout);
    return 0;
}

}  // namespace gwctl

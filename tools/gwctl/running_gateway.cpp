#include "running_gateway.h"

#include "control_client.h"

namespace gwctl {

std::optional<RunningGateway> askRunningGateway(const GlobalOptions& global) {
    using hotgate::control::MessageType;
    auto reply = controlRequest(global.control_socket, MessageType::Status, nlohmann::json::object(),
                                std::chrono::seconds(5));
    if (!reply || reply->type != MessageType::StatusReply) return std::nullopt;
    const auto& status = reply->payload;
    RunningGateway running;
    running.control_socket = global.control_socket;
    running.mode = status.value("mode", "");
    running.mode_reason = status.value("mode_reason", "");
    running.bpffs_root = status.value("bpffs_root", "");
    for (const auto& listener : status.value("listeners", nlohmann::json::array()))
        if (listener.is_object() && listener.contains("name") && listener["name"].is_string())
            running.listeners.push_back(listener["name"].get<std::string>());
    return running;
}

std::string bpffsRootFor(const GlobalOptions& global, const std::optional<RunningGateway>& running) {
    if (global.bpffsGiven()) return global.bpffs_root;
    if (running && !running->bpffs_root.empty()) return running->bpffs_root;
    return global.bpffs_root;
}

}  // namespace gwctl

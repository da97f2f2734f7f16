#include "control/messages.h"

#include "common/base64.h"
#include "control/fd_passing.h"

namespace hotgate::control {
namespace {

using nlohmann::json;

// Runs a decoder built on nlohmann's at()/get(), which throw naming the key or the type;
// returns its exception text as the Error.
template <typename T, typename Decode>
Result<T> decoded(Decode&& decode) {
    try {
        return decode();
    } catch (const json::exception& e) {
        return fail(e.what());
    }
}

template <typename T>
void putOptional(json& out, const char* key, const std::optional<T>& value) {
    if (value) out[key] = *value;
}

template <typename T>
std::optional<T> getOptional(const json& payload, const char* key) {
    if (!payload.contains(key)) return std::nullopt;
    return payload.at(key).get<T>();
}

// A required absolute path, with the errors gwctl shows as they are.
Result<std::string> absolutePath(const json& payload, MessageType type) {
    if (!payload.contains("path") || !payload["path"].is_string() || payload["path"].get<std::string>().empty())
        return fail(messageTypeName(static_cast<std::uint16_t>(type)), " needs a non-empty string field 'path'");
    auto path = payload["path"].get<std::string>();
    if (path[0] != '/') return fail("'path' must be absolute (the server reads it), got '", path, "'");
    return path;
}

}  // namespace

Reply Reply::success(std::string message, json details) { return {true, std::move(message), std::move(details)}; }
Reply Reply::failure(std::string message, json details) { return {false, std::move(message), std::move(details)}; }

json Reply::toJson() const {
    json out = details.is_object() ? details : json::object();
    out["ok"] = ok;
    out["message"] = message;
    return out;
}

Reply Reply::fromJson(const json& payload) {
    Reply reply;
    reply.details = payload.is_object() ? payload : json::object();
    reply.ok = reply.details.contains("ok") && reply.details["ok"].is_boolean() && reply.details["ok"].get<bool>();
    if (reply.details.contains("message") && reply.details["message"].is_string())
        reply.message = reply.details["message"].get<std::string>();
    reply.details.erase("ok");
    reply.details.erase("message");
    return reply;
}

json ConfigApplyRequest::toJson() const { return {{"path", path}, {"wait", wait}}; }

Result<ConfigApplyRequest> ConfigApplyRequest::fromJson(const json& payload) {
    auto path = absolutePath(payload, MessageType::ConfigApply);
    if (!path) return tl::unexpected(path.error());
    if (payload.contains("wait") && !payload["wait"].is_boolean()) return fail("'wait' must be true or false");
    return ConfigApplyRequest{*path, payload.value("wait", false)};
}

json ConfigDiffRequest::toJson() const { return {{"path", path}}; }

Result<ConfigDiffRequest> ConfigDiffRequest::fromJson(const json& payload) {
    auto path = absolutePath(payload, MessageType::ConfigDiff);
    if (!path) return tl::unexpected(path.error());
    return ConfigDiffRequest{*path};
}

std::string_view upgradeStateName(UpgradeState state) {
    switch (state) {
        case UpgradeState::None: return "none";
        case UpgradeState::Starting: return "starting";
        case UpgradeState::Ready: return "ready";
        case UpgradeState::CutOver: return "cut over";
        case UpgradeState::Committing: return "committing";
    }
    return "?";
}

std::optional<UpgradeState> parseUpgradeState(std::string_view name) {
    for (auto state : {UpgradeState::None, UpgradeState::Starting, UpgradeState::Ready, UpgradeState::CutOver,
                       UpgradeState::Committing})
        if (upgradeStateName(state) == name) return state;
    return std::nullopt;
}

json VersionInfo::toJson() const {
    json out{{"version", version}, {"pid", pid}};
    if (phase) out["phase"] = versionPhaseName(*phase);
    if (mode) out["mode"] = dataplaneModeName(*mode);
    putOptional(out, "config_path", config_path);
    putOptional(out, "slot", slot);
    putOptional(out, "connections", connections);
    putOptional(out, "in_flight", in_flight);
    putOptional(out, "connections_handed_off", connections_handed_off);
    putOptional(out, "connections_adopted", connections_adopted);
    putOptional(out, "drain_deadline_ms", drain_deadline_ms);
    return out;
}

Result<VersionInfo> VersionInfo::fromJson(const json& p) {
    return decoded<VersionInfo>([&] {
        VersionInfo info;
        info.version = p.value("version", std::string());
        info.pid = p.value("pid", 0);
        if (p.contains("phase")) info.phase = parseVersionPhase(p.at("phase").get<std::string>());
        if (p.contains("mode")) info.mode = parseDataplaneMode(p.at("mode").get<std::string>());
        info.config_path = getOptional<std::string>(p, "config_path");
        info.slot = getOptional<std::uint32_t>(p, "slot");
        info.connections = getOptional<std::uint64_t>(p, "connections");
        info.in_flight = getOptional<std::uint64_t>(p, "in_flight");
        info.connections_handed_off = getOptional<std::uint64_t>(p, "connections_handed_off");
        info.connections_adopted = getOptional<std::uint64_t>(p, "connections_adopted");
        info.drain_deadline_ms = getOptional<std::int64_t>(p, "drain_deadline_ms");
        return info;
    });
}

json StatusReply::toJson() const {
    json list = json::array();
    for (const auto& version : versions) list.push_back(version.toJson());
    json out{{"versions", list}, {"mode", dataplaneModeName(mode)}};
    if (upgrade_state) out["upgrade_state"] = upgradeStateName(*upgrade_state);
    if (!mode_reason.empty()) out["mode_reason"] = mode_reason;
    if (!last_upgrade_error.empty()) out["last_upgrade_error"] = last_upgrade_error;
    json listener_list = json::array();
    for (const auto& l : listeners)
        listener_list.push_back({{"name", l.name}, {"address", l.address}, {"sockets", l.sockets}});
    out["listeners"] = listener_list;
    out["bpffs_root"] = bpffs_root;
    if (require_signature) out["require_signature"] = *require_signature;
    return out;
}

Result<StatusReply> StatusReply::fromJson(const json& p) {
    StatusReply reply;
    try {
        for (const auto& entry : p.value("versions", json::array())) {
            auto info = VersionInfo::fromJson(entry);
            if (!info) return fail("StatusReply: version ", reply.versions.size(), ": ", info.error().message);
            reply.versions.push_back(std::move(*info));
        }
        reply.mode = parseDataplaneMode(p.value("mode", std::string())).value_or(DataplaneMode::Takeover);
        // Version 1 servers always say; a missing state reads as no upgrade, an unknown one as some upgrade.
        reply.upgrade_state = parseUpgradeState(p.value("upgrade_state", std::string("none")));
        reply.mode_reason = p.value("mode_reason", std::string());
        reply.last_upgrade_error = p.value("last_upgrade_error", std::string());
        for (const auto& l : p.value("listeners", json::array()))
            reply.listeners.push_back({l.value("name", std::string()), l.value("address", std::string()),
                                       l.value("sockets", std::uint64_t{0})});
        reply.bpffs_root = p.value("bpffs_root", std::string());
        if (p.contains("require_signature")) reply.require_signature = p.at("require_signature").get<bool>();
    } catch (const json::exception& e) {
        return fail("StatusReply: ", e.what());
    }
    return reply;
}

json Hello::toJson() const { return {{"version", version}, {"pid", pid}, {"config_hash", config_hash}}; }

Result<Hello> Hello::fromJson(const json& p) {
    return decoded<Hello>([&] {
        return Hello{p.at("version").get<std::string>(), p.at("pid").get<int>(), p.value("config_hash", std::string())};
    });
}

json Handover::toJson() const {
    json list = json::array();
    for (const auto& listener : listeners) list.push_back({{"name", listener.name}, {"fds", listener.fd_count}});
    json out{{"version", version},
             {"pid", pid},
             {"config_hash", config_hash},
             {"mode", dataplaneModeName(mode)},
             {"active_slot", active_slot},
             {"listeners", list},
             {"tls_session_ticket_keys", ticket_keys}};
    if (protection_fds > 0) out["protection_fds"] = protection_fds;  // absent: a version without them
    return out;
}

Result<Handover> Handover::fromJson(const json& p) {
    std::string mode_name;
    auto handover = decoded<Handover>([&] {
        Handover h;
        h.pid = p.value("pid", 0);
        h.version = p.at("version").get<std::string>();
        h.config_hash = p.at("config_hash").get<std::string>();
        mode_name = p.at("mode").get<std::string>();
        h.active_slot = p.at("active_slot").get<std::uint32_t>();
        h.ticket_keys = p.value("tls_session_ticket_keys", std::string());
        h.protection_fds = p.value("protection_fds", std::size_t{0});
        for (const auto& listener : p.at("listeners"))
            h.listeners.push_back({listener.at("name").get<std::string>(), listener.at("fds").get<std::size_t>()});
        return h;
    });
    if (!handover) return fail("malformed Handover: ", handover.error().message);
    const auto mode = parseDataplaneMode(mode_name);
    if (!mode) return fail("Handover has unknown mode '", mode_name, "'");
    handover->mode = *mode;
    return handover;
}

json Ready::toJson() const {
    json out{{"slot", slot}, {"admin", admin}, {"pid", pid}};
    if (shadow_paths) out["shadow_paths"] = true;
    return out;
}

Result<Ready> Ready::fromJson(const json& p) {
    return decoded<Ready>([&] {
        return Ready{p.value("slot", 0u), p.value("admin", std::string()), p.value("pid", 0),
                     p.value("shadow_paths", false)};
    });
}

json Failed::toJson() const { return {{"reason", reason}}; }

Result<Failed> Failed::fromJson(const json& p) {
    return decoded<Failed>([&] { return Failed{p.value("reason", std::string("no reason given"))}; });
}

json Heartbeat::toJson() const { return {{"connections", connections}, {"in_flight", in_flight}, {"healthy", healthy}}; }

Result<Heartbeat> Heartbeat::fromJson(const json& p) {
    return decoded<Heartbeat>([&] {
        return Heartbeat{p.value("connections", std::uint64_t{0}), p.value("in_flight", std::uint64_t{0}),
                         p.value("healthy", true)};
    });
}

json Committed::toJson() const { return {{"drain_ms", drain_ms}}; }

Result<Committed> Committed::fromJson(const json& p) {
    return decoded<Committed>([&] { return Committed{p.value("drain_ms", std::int64_t{0})}; });
}

json Stop::toJson() const { return {{"reason", reason}}; }

Result<Stop> Stop::fromJson(const json& p) {
    return decoded<Stop>([&] { return Stop{p.value("reason", std::string("no reason given"))}; });
}

json AdoptConnection::toJson() const { return {{"listener", listener}, {"buffered_base64", encodeBase64(buffered)}}; }

Result<AdoptConnection> AdoptConnection::fromJson(const json& p) {
    auto fields = decoded<std::pair<std::string, std::string>>([&] {
        return std::make_pair(p.value("listener", std::string()), p.value("buffered_base64", std::string()));
    });
    if (!fields) return tl::unexpected(fields.error());
    auto buffered = decodeBase64(fields->second);
    if (!buffered) return fail("buffered_base64: ", buffered.error().message);
    return AdoptConnection{std::move(fields->first), std::move(*buffered)};
}

MessageType messageType(const PeerMessage& message) {
    struct {
        MessageType operator()(const Ready&) const { return MessageType::Ready; }
        MessageType operator()(const Failed&) const { return MessageType::Failed; }
        MessageType operator()(const Heartbeat&) const { return MessageType::Heartbeat; }
        MessageType operator()(const Activate&) const { return MessageType::Activate; }
        MessageType operator()(const Committed&) const { return MessageType::Committed; }
        MessageType operator()(const Stop&) const { return MessageType::Stop; }
    } type_of;
    return std::visit(type_of, message);
}

json toJson(const PeerMessage& message) {
    return std::visit([](const auto& m) { return m.toJson(); }, message);
}

Result<PeerMessage> decodePeerMessage(const Message& message) {
    auto as = [](auto parsed) -> Result<PeerMessage> {
        if (!parsed) return tl::unexpected(parsed.error());
        return PeerMessage(std::move(*parsed));
    };
    const auto& p = message.payload;
    switch (message.type) {
        case MessageType::Ready: return as(Ready::fromJson(p));
        case MessageType::Failed: return as(Failed::fromJson(p));
        case MessageType::Heartbeat: return as(Heartbeat::fromJson(p));
        case MessageType::Activate: return PeerMessage(Activate{});
        case MessageType::Committed: return as(Committed::fromJson(p));
        case MessageType::Stop: return as(Stop::fromJson(p));
        default:
            return fail("unexpected ", messageTypeName(static_cast<std::uint16_t>(message.type)));
    }
}

}  // namespace hotgate::control

// The payloads of the control protocol (control/protocol.h documents each message and its
// order) as typed structs, with their JSON encoding and decoding here and nowhere else.
// Decoding is exactly as lenient as protocol version 1 always was (optional fields default,
// unknown fields are ignored) and as strict (a required field that is missing or of the wrong
// type is refused, naming it), so an older and a newer binary understand each other during an
// upgrade. Encoding writes the same keys version 1 always wrote.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/version_state.h"
#include "control/protocol.h"

namespace hotgate::control {

struct Message;

// Ok or Error: the answer to a gwctl request, {ok, message, ...details}.
struct Reply {
    bool ok = false;
    std::string message;
    nlohmann::json details = nlohmann::json::object();  // request-specific fields: write_us, tls, hash, ...

    static Reply success(std::string message, nlohmann::json details = nlohmann::json::object());
    static Reply failure(std::string message, nlohmann::json details = nlohmann::json::object());
    MessageType type() const { return ok ? MessageType::Ok : MessageType::Error; }
    nlohmann::json toJson() const;
    // From a payload that carries "ok" (the config engine's replies); every other field is a detail.
    static Reply fromJson(const nlohmann::json& payload);
};

// --- gwctl requests -------------------------------------------------------------------------

// ConfigApply {path, wait}: `path` is absolute (the server reads it itself).
struct ConfigApplyRequest {
    std::string path;
    bool wait = false;
    nlohmann::json toJson() const;
    // Errors are the text gwctl shows: "ConfigApply needs a non-empty string field 'path'".
    static Result<ConfigApplyRequest> fromJson(const nlohmann::json& payload);
};

// ConfigDiff {path}.
struct ConfigDiffRequest {
    std::string path;
    nlohmann::json toJson() const;
    static Result<ConfigDiffRequest> fromJson(const nlohmann::json& payload);
};

// The upgrade state StatusReply carries: the running version's view of its successor.
enum class UpgradeState { None, Starting, Ready, CutOver, Committing };
std::string_view upgradeStateName(UpgradeState state);  // "none", "starting", "ready", "cut over", "committing"
std::optional<UpgradeState> parseUpgradeState(std::string_view name);

// One version in a StatusReply. The version answering fills every field it has; its
// predecessor (draining after commit) and its successor carry fewer.
struct VersionInfo {
    std::string version;
    int pid = 0;
    std::optional<VersionPhase> phase;  // absent: a phase this binary does not know
    std::optional<DataplaneMode> mode;
    std::optional<std::string> config_path;
    std::optional<std::uint32_t> slot;  // BPF mode
    std::optional<std::uint64_t> connections;
    std::optional<std::uint64_t> in_flight;
    std::optional<std::uint64_t> connections_handed_off;
    std::optional<std::uint64_t> connections_adopted;
    std::optional<std::int64_t> drain_deadline_ms;  // draining: how long until what is open gets closed
    nlohmann::json toJson() const;
    static Result<VersionInfo> fromJson(const nlohmann::json& payload);
};

// One listener of the version answering a Status.
struct ListenerInfo {
    std::string name;
    std::string address;
    std::uint64_t sockets = 0;
};

// StatusReply {versions, mode, upgrade_state, mode_reason?, last_upgrade_error?, listeners,
// bpffs_root, require_signature?}: the version answering first, then its draining predecessor,
// then its successor; the answering version's own listeners and pin root (gwctl's steering
// commands default to them); whether its config demands signed binaries (upgrade.require_signature).
struct StatusReply {
    std::vector<VersionInfo> versions;
    std::vector<ListenerInfo> listeners;
    std::string bpffs_root;
    DataplaneMode mode = DataplaneMode::Takeover;
    std::optional<UpgradeState> upgrade_state;  // absent: a state this binary does not know
    std::string mode_reason;                    // why takeover mode, when it is
    std::string last_upgrade_error;
    // absent: a version older than upgrade.require_signature (which therefore demands nothing)
    std::optional<bool> require_signature;
    nlohmann::json toJson() const;
    static Result<StatusReply> fromJson(const nlohmann::json& payload);
};

// --- between a version and its successor ----------------------------------------------------

// 1. Hello {version, pid, config_hash}: a successor introduces itself.
struct Hello {
    std::string version;
    int pid = 0;
    std::string config_hash;
    nlohmann::json toJson() const;
    static Result<Hello> fromJson(const nlohmann::json& payload);
};

// 2. Handover {version, pid, config_hash, mode, active_slot, listeners, tls_session_ticket_keys,
//    protection_fds}
// + for each listener in order, `fd_count` descriptors, then `protection_fds` descriptors.
struct HandoverListener {
    std::string name;
    std::size_t fd_count = 0;
};
struct Handover {
    std::string version;
    int pid = 0;
    std::string config_hash;
    DataplaneMode mode = DataplaneMode::Takeover;
    std::uint32_t active_slot = 0;
    std::vector<HandoverListener> listeners;
    std::string ticket_keys;  // TLS session ticket keys (key-file text; a secret); empty from an older version
    // Descriptors after the listeners': the rate-limit bucket table and the breaker table
    // (docs/protection.md); 0 from a version without them.
    std::size_t protection_fds = 0;
    nlohmann::json toJson() const;
    static Result<Handover> fromJson(const nlohmann::json& payload);
};

// 3. Ready {slot, admin, pid} or Failed {reason}.
struct Ready {
    std::uint32_t slot = 0;
    std::string admin;
    int pid = 0;
    // It serves ShadowConnection (gwctl verify); absent, from a version before it: false, and
    // no ShadowConnection may be sent to it (it would not understand the frame).
    bool shadow_paths = false;
    nlohmann::json toJson() const;
    static Result<Ready> fromJson(const nlohmann::json& payload);
};
struct Failed {
    std::string reason;
    nlohmann::json toJson() const;
    static Result<Failed> fromJson(const nlohmann::json& payload);
};

// 4. Heartbeat {connections, in_flight, healthy}, Activate {}, Committed {drain_ms},
// Stop {reason}, AdoptConnection {listener, buffered_base64} + 1 fd.
struct Heartbeat {
    std::uint64_t connections = 0;
    std::uint64_t in_flight = 0;
    bool healthy = true;
    nlohmann::json toJson() const;
    static Result<Heartbeat> fromJson(const nlohmann::json& payload);
};
struct Activate {
    nlohmann::json toJson() const { return nlohmann::json::object(); }
};
struct Committed {
    std::int64_t drain_ms = 0;  // how long the committed version drains at most
    nlohmann::json toJson() const;
    static Result<Committed> fromJson(const nlohmann::json& payload);
};
struct Stop {
    std::string reason;
    nlohmann::json toJson() const;
    static Result<Stop> fromJson(const nlohmann::json& payload);
};
struct AdoptConnection {
    std::string listener;
    std::string buffered;  // bytes already read from the connection (base64 on the wire)
    nlohmann::json toJson() const;
    static Result<AdoptConnection> fromJson(const nlohmann::json& payload);
};

// The messages of the long-lived link between two versions that carry no descriptors.
using PeerMessage = std::variant<Ready, Failed, Heartbeat, Activate, Committed, Stop>;
MessageType messageType(const PeerMessage& message);
nlohmann::json toJson(const PeerMessage& message);
// Fails on a type that is not a PeerMessage, or a payload its type refuses.
Result<PeerMessage> decodePeerMessage(const Message& message);

}  // namespace hotgate::control

// The control protocol between hotgate versions and gwctl, version 1. Every message, its
// fields and its order are documented here; change any of them incompatibly and bump
// kControlProtocolVersion, so that a peer speaking another version is refused with a clear
// error instead of being misunderstood (the same rule as Envoy's HOT_RESTART_VERSION).
// control/messages.h holds every payload as a typed struct with its JSON encoding and
// decoding; nothing else builds or parses a payload.
//
// Transport: AF_UNIX SOCK_STREAM, by default /run/hotgate/control.sock, mode 0600. The server
// checks the peer's uid with SO_PEERCRED: only its own uid (and root) may talk to it.
//
// Frame: a 16-byte header, then `length` bytes of payload, a JSON object (UTF-8):
//
//     offset 0  magic          4 bytes  "HGCP"
//     offset 4  version        u16      kControlProtocolVersion (host byte order: same machine)
//     offset 6  type           u16      MessageType
//     offset 8  length         u32      payload bytes, at most kMaxPayloadBytes
//     offset 12 fd_count       u32      file descriptors riding with this frame, at most kMaxFds
//
// The fds travel as one SCM_RIGHTS control message on the sendmsg() that carries the header.
// A frame whose magic, version, type, length or fd count is wrong, or whose payload is not a
// JSON object with the fields its type requires, is refused: the receiver answers Error (when
// it can) and closes that connection. The daemon keeps serving.
//
// Conversations (each message is a frame; "->" is client to server):
//
//   gwctl, one request and one reply per connection:
//     -> Status {}                           <- StatusReply {versions: [VersionInfo...], mode, upgrade_state,
//                                                              mode_reason?, last_upgrade_error?,
//                                                              listeners: [{name, address, sockets}],
//                                                              bpffs_root, require_signature?}
//     -> Cutover {}                          <- Ok {message} | Error {message}
//     -> Commit {}                           <- Ok {message} | Error {message}
//     -> Rollback {}                         <- Ok {message} | Error {message}
//     -> CertsReload {}                      <- Ok {message, tls} | Error {message}: re-read every TLS
//                                               listener's certificate files (all or nothing per listener)
//     -> RotateTicketKey {}                  <- Ok {message, session_ticket_keys: [fingerprint...]}
//                                               | Error {message}
//     -> LogsReopen {}                       <- Ok {message, files} | Error {message}: reopen every
//                                               access log file (logrotate moved them away)
//     -> UpgradeStages {pid, stages: [...]}  <- Ok {message} | Error {message}: what gwctl upgrade
//                                               did before the new version ran, for the upgrade
//                                               trace (control/upgrade_stages.h); versions before
//                                               it answer Error and gwctl goes on
//     -> Verify {samples, routes, timeout_ms, replay}
//                                            <- Ok {message, report} | Error {message, report?}:
//                                               mirror live requests to both versions and compare
//                                               (control/verify_request.h, docs/verification.md)
//   where VersionInfo = {version, pid, phase, mode?, config_path?, slot?, connections?, in_flight?,
//                        connections_handed_off?, connections_adopted?, drain_deadline_ms?}
//   and upgrade_state is none | starting | ready | cut over | committing; require_signature
//   (a bool, absent from versions before it) is the answering version's upgrade.require_signature:
//   gwctl upgrade then refuses a binary without a verified signature.
//
//   gwctl config (the config engine, control/config_engine.h), one request and one reply:
//     -> ConfigApply {path, wait}            <- Ok {message, hash, previous_hash, changes: [Change...],
//                                                  applies: "in_place"|"new_version"|"none",
//                                                  verdict?, apply_us}
//                                             | Error {message, problems: ["file:line: path: msg"...]}
//          `path` is an absolute path the server reads itself (same machine, same uid); with
//          wait=true the reply comes after the verification window (verdict: "verified" or
//          "rolled back: <why>"), else right after the swap.
//     -> ConfigRollback {}                   <- Ok {message, hash} | Error {message}
//     -> ConfigHistory {}                    <- Ok {entries: [{hash, time_ms, origin, state, source}...]}
//     -> ConfigDiff {path}                   <- Ok {running_hash, hash, changes: [Change...]} | Error {...}
//   where Change = {path, kind: set|added_item|removed_item|added|removed, old?, new?,
//                   applies: in_place|new_version}.
//   A request missing a required field is answered Error {message} naming it.
//
//   a successor (the new version started by `gwctl upgrade`), one connection kept open until
//   the old version exits; its loss tells each side that the other is gone:
//     1. -> Hello {version, pid, config_hash}
//     2. <- Handover {version, pid, config_hash, mode, active_slot, listeners: [{name, fds}],
//                    tls_session_ticket_keys}   (key-file text: the successor issues and accepts the
//                    same session tickets; a secret, which is why the socket is 0600 and uid-checked)
//           + fds: for each listener in order, `fds` descriptors:
//             mode "takeover": that listener's listening sockets (one per old worker);
//             mode "bpf": [steer program, sockarray map, slot map, control map, stats map].
//        or <- Error {message} (e.g. an upgrade is already in progress)
//     3. -> Ready {slot, admin, pid, shadow_paths?}  once the successor serves on its own sockets (or holds
//           the inherited ones) and passed its own health check (admin /healthz?version=&pid=);
//        or -> Failed {reason} and the successor exits.
//     4. from then on, in any order:
//        -> Heartbeat {connections, in_flight, healthy}   every 200 ms; 3 s without one, or
//           healthy=false after cutover make the old version roll back by itself;
//        <- Activate {}     cutover: the successor now receives new connections (takeover
//                           mode: it starts accepting on the inherited sockets);
//        <- Committed {}    the old version is closing its listeners and draining: the
//                           successor takes over the control socket path;
//        <- Stop {reason}   rollback: the successor stops accepting, hands its keep-alive
//                           connections back and exits;
//        <> AdoptConnection {listener, buffered_base64}  + 1 fd, either direction: a keep-alive
//           client connection at a request boundary, with the bytes already read from it.
//        <- ShadowConnection {}  + 1 fd: one end of a loopback TCP connection over which gwctl
//           verify mirrors requests; the successor serves it as a shadow connection. Sent only
//           to a successor whose Ready said shadow_paths: true (an older one would take the
//           unknown frame for a broken link).
#pragma once

#include <cstdint>
#include <string_view>

namespace hotgate::control {

inline constexpr char kMagic[4] = {'H', 'G', 'C', 'P'};
inline constexpr std::uint16_t kControlProtocolVersion = 1;
inline constexpr std::uint32_t kMaxPayloadBytes = 1 << 20;
inline constexpr std::uint32_t kMaxFds = 64;
inline constexpr std::string_view kDefaultControlSocket = "/run/hotgate/control.sock";

enum class MessageType : std::uint16_t {
    Ok = 1,
    Error = 2,
    Status = 10,
    StatusReply = 11,
    Cutover = 12,
    Commit = 13,
    Rollback = 14,
    UpgradeStages = 15,
    Verify = 16,
    Hello = 20,
    Handover = 21,
    Ready = 22,
    Failed = 23,
    AdoptConnection = 24,
    Stop = 25,
    Committed = 26,
    Heartbeat = 27,
    Activate = 28,
    ShadowConnection = 29,
    ConfigApply = 30,
    ConfigRollback = 31,
    ConfigHistory = 32,
    ConfigDiff = 33,
    CertsReload = 40,
    RotateTicketKey = 41,
    LogsReopen = 42,
};

struct FrameHeader {
    char magic[4];
    std::uint16_t version;
    std::uint16_t type;
    std::uint32_t length;
    std::uint32_t fd_count;
};
static_assert(sizeof(FrameHeader) == 16, "control frame header layout changed");

// The name of a message type for errors and logs ("Hello"), or nullptr when unknown.
const char* messageTypeName(std::uint16_t type);

}  // namespace hotgate::control

// Gateway: one running version of hotgate: its config snapshot, listener groups, steering,
// workers and metrics. Started whole or not at all. Stops either by draining (SIGTERM) or by
// handing its connections to the next version (upgrade commit) or back (rollback).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/error.h"
#include "common/unique_fd.h"
#include "common/version_state.h"
#include "config/config.h"
#include "observability/metrics.h"
#include "proxy/serving_context.h"

namespace hotgate {

class ListenerGroup;
class Worker;
namespace tls {
class FileWatch;
class TicketKeyStore;
class TlsListener;
}
namespace dataplane {
class FrontLoader;
class SteerLoader;
}
namespace health {
class HealthService;
}

struct ListenerStatus {
    std::string name;
    std::string address;
    std::size_t sockets = 0;
};

// How new connections reach this version: BPF steering by version slot, or (when BPF cannot
// be used) plain SO_REUSEPORT sockets handed over by fd at upgrade time.
struct DataplaneStatus {
    DataplaneMode mode = DataplaneMode::Takeover;
    std::string reason;             // why takeover, when it is
    std::vector<std::string> xdp_interfaces;  // where the XDP front is attached
    std::optional<std::uint32_t> slot;  // BPF mode: this version's slot
};

// How a version starts. The first version opens its sockets, steers to slot 0 and accepts.
// A successor (hot upgrade) either opens its own sockets in a free BPF slot that gets no
// traffic until cutover, or takes the predecessor's listening sockets and waits to accept.
struct StartPlan {
    enum class Kind { First, SuccessorBpf, SuccessorTakeover };
    Kind kind = Kind::First;
    std::uint32_t slot = 0;  // SuccessorBpf: the free slot to register in
    std::map<std::string, std::vector<UniqueFd>> inherited;  // SuccessorTakeover: listener -> fds
    // Successor: the predecessor's TLS session ticket keys (key-file text), so tickets it issued
    // resume here. Empty for a first start (keys then come from the configured file or are made).
    std::string ticket_keys;
    // Successor: the predecessor's rate-limit buckets and circuit breakers (empty: new ones).
    HandedProtection protection;
    // Where sampled request spans go (telemetry.sample_ratio); must outlive the gateway.
    telemetry::SpanSink* spans = nullptr;
};

class Gateway {
public:
    // Opens or inherits every listener (one socket per worker), sets up steering when it can,
    // and starts the workers. Fails with the reason (bind errors name listener, address, errno).
    static Result<std::unique_ptr<Gateway>> start(const ConfigSnapshot& config, const std::string& build_version,
                                                  StartPlan plan = {});
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    // SIGTERM: stop accepting, close idle keep-alive connections, let requests in progress
    // finish, for at most the config's drain timeout. Returns true when every connection ended
    // in time. Blocks; call from a thread that is not a worker.
    bool drain();

    // Upgrade commit or rollback: close the listening sockets (BPF: queued requests migrate to
    // the active slot), give every keep-alive connection to `hand_off` at its next request
    // boundary, let the rest finish, for at most the drain timeout. Blocks like drain().
    bool handOffAndDrain(ConnectionHandOff hand_off);

    // Takeover mode: start or stop accepting on the (shared) listening sockets.
    void pauseAccepting();
    void resumeAccepting();

    // BPF mode: point every listener's control entry at `slot` (cutover or rollback).
    Result<void> steerTo(std::uint32_t slot);

    // Serves a connection handed over by the other version. Fails for an unknown listener.
    Result<void> adopt(const std::string& listener, UniqueFd fd, std::string already_read);
    // Serves one end of a loopback TCP connection as a shadow connection: `gwctl verify`'s path
    // to this version (docs/verification.md).
    void serveShadow(UniqueFd fd);

    // What a successor needs from this version, per listener in config order: in takeover
    // mode the listening fds; in BPF mode [program, sockarray, slot map, control map, stats].
    std::vector<std::pair<std::string, std::vector<int>>> handoverFds() const;
    // What a successor needs to keep counting where this version is: [rate buckets, breakers].
    std::vector<int> protectionFds() const { return context_->protection->handoverFds(); }

    // Config engine: serve `config` from the next request on, on every worker at once. Only
    // for changes that apply in place (same listeners, workers, admin and data plane).
    ServingSnapshotPtr publishConfig(ConfigSnapshot config);

    const ServingContext& context() const { return *context_; }
    ServingContext& context() { return *context_; }
    Metrics& metrics() { return *metrics_; }
    const std::vector<ListenerStatus>& listeners() const { return listeners_; }
    const DataplaneStatus& dataplane() const { return dataplane_; }
    // The TCP health profile (available, or unavailable with the reason); never null.
    const health::HealthService& health() const { return *health_; }
    // BPF mode: the slot the steering control entry points at now.
    std::optional<std::uint32_t> activeSlot() const;
    std::chrono::steady_clock::time_point startedAt() const { return started_at_; }
    bool draining() const { return context_->draining(); }

    // TLS: the session ticket keys to hand to a successor (key-file text; a secret: never log it).
    std::string ticketKeysForHandover() const;
    // Re-reads every TLS listener's certificate files and swaps the new contexts in. All or
    // nothing per listener; on failure the old certificates keep serving and the error says why.
    Result<void> reloadCertificates();
    // Config engine, before it publishes `next` in place: TLS listeners whose certificates
    // changed get new contexts, a changed ticket key file is read. Turning TLS on or off for a
    // listener is refused (it needs a new version).
    Result<void> applyTlsConfig(const Config& next);
    // Config engine, before it publishes `next` in place: opens the access log files it names
    // that are not open yet. Fails naming the sink, path and errno; nothing changes then.
    Result<void> openAccessLogs(const Config& next);
    // Reopens every access log file (SIGUSR1, gwctl logs reopen): how many were reopened.
    Result<std::size_t> reopenAccessLogs();
    void requestAccessLogReopen();  // the same, without waiting (a signal handler)
    // Puts a fresh key first in the session ticket key ring (the others only decrypt), and
    // writes the ring to the configured key file, if any, so the next start reads the same ring.
    Result<std::vector<std::string>> rotateTicketKey();
    // What /status shows of TLS: per listener, the served certificates and the key fingerprints.
    nlohmann::json tlsStatus() const;

    // Where this version is in its life (common/version_state.h). Set by the upgrade
    // controller; read by admin and status. A draining gateway is Draining whatever was set.
    void setPhase(VersionPhase phase);
    // When draining: the moment whatever is still open gets closed.
    std::optional<std::chrono::steady_clock::time_point> drainDeadline() const;
    VersionPhase phase() const;

private:
    Gateway() = default;
    // BPF steering for every listener group in `slot` (made active when `activate`), when the
    // kernel and our privileges allow; otherwise records why and stays in takeover mode.
    // All or nothing. First collects the pin groups nobody serves any more under the root.
    void setUpSteering(std::vector<ListenerGroup>& groups, std::uint32_t slot, bool activate);
    // Removes (and logs) the pin groups under `bpffs_root` whose sockets and pids are all gone
    // (health/gateway_pins.h); a failure is logged, never fatal.
    void collectPinGarbage(const std::string& bpffs_root);
    // Loads the XDP front and attaches it to the configured interfaces (none by default).
    // Fails with the interface and errno: an operator who asked for it must not silently lack it.
    Result<void> setUpFront();
    // The health profile of this version (bpf/health.bpf.c): in BPF mode, tags the listening
    // sockets with `slot` and registers the upstream endpoints; otherwise unavailable, with why.
    void setUpHealth(std::vector<ListenerGroup>& groups, std::uint32_t slot);
    // Ticket keys (configured file, else the predecessor's, else a fresh random key) and the
    // certificate contexts of every TLS listener. Fails on any certificate or key file problem.
    Result<void> setUpTls(const std::string& handed_ticket_keys);
    void publishCertificateExpiry();
    // (Re)starts the inotify watch on `config`'s certificate, key and ticket key files.
    Result<void> watchTlsFiles(const Config& config);
    bool waitForConnectionsToEnd();

    std::unique_ptr<AccessLog> access_log_;  // outlives the workers, which submit to it
    std::unique_ptr<Metrics> metrics_;
    std::unique_ptr<ServingContext> context_;
    std::vector<std::unique_ptr<dataplane::SteerLoader>> steering_;  // one per listener in BPF mode
    std::unique_ptr<dataplane::FrontLoader> front_;                   // when xdp_interfaces are set
    std::unique_ptr<health::HealthService> health_;
    std::unique_ptr<tls::TicketKeyStore> ticket_keys_;
    std::mutex tls_mutex_;  // one certificate reload or key rotation at a time
    std::unique_ptr<tls::FileWatch> tls_watch_;  // reloads when a certificate, key or ticket key file changes
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<ListenerStatus> listeners_;
    DataplaneStatus dataplane_;
    std::chrono::steady_clock::time_point started_at_;
    std::atomic<std::size_t> next_adopter_{0};
    mutable std::mutex phase_mutex_;
    VersionPhase phase_ = VersionPhase::Active;
    std::optional<std::chrono::steady_clock::time_point> drain_deadline_;
};

}  // namespace hotgate

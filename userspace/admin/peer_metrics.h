// Metrics across versions: during an upgrade two versions share the admin port, so a scrape
// reaches one of them. Each version therefore serves its own hotgate_http_* families to the
// others on a unix socket beside the control socket ("<control socket>.http-metrics.<pid>"),
// and the version answering /metrics merges in every other live version's. A version leaving
// after a commit or rollback writes its final counts to "<control socket>.http-metrics-final.<pid>"
// (replacing the previous one), which the versions after it serve until the next one leaves, so
// no request of an exited version goes unseen and none is counted twice. docs/operations.md
// "Metrics across versions".
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace hotgate {

class PeerMetricsServer {
public:
    // Listens on "<control_socket>.http-metrics.<this pid>" and answers each connection with
    // `own_http()` (then closes it), on a thread of its own that never waits for another version.
    static Result<std::unique_ptr<PeerMetricsServer>> start(const std::string& control_socket,
                                                            std::function<std::string()> own_http);
    ~PeerMetricsServer();
    PeerMetricsServer(const PeerMetricsServer&) = delete;
    PeerMetricsServer& operator=(const PeerMetricsServer&) = delete;

    // Stops answering and removes the socket file.
    void stop();

private:
    PeerMetricsServer(std::string path, UniqueFd listener, std::function<std::string()> own_http);
    void serveLoop();

    const std::string path_;
    UniqueFd listener_;
    std::function<std::string()> own_http_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

// One other version's hotgate_http_* text.
struct PeerMetricsText {
    pid_t pid = 0;
    bool left = false;  // from the final file of a version that has left
    std::string text;
};

// The texts of every other version beside `control_socket`: the live ones first, read from their
// sockets (each read bounded by `timeout`), then the final files of those that have left.
std::vector<PeerMetricsText> collectPeerMetrics(const std::string& control_socket, pid_t self,
                                                std::chrono::milliseconds timeout);

// The texts to merge into a scrape of the version labelled `own_version`: one per version label,
// never `own_version`'s, a live version's before a left one's. (A label names a build and a config,
// so a version upgraded to the same build and config as a former one shares its label; the
// series of that former one are then dropped, as Prometheus would see a counter reset anyway.)
std::vector<std::string> textsToMerge(std::vector<PeerMetricsText> peers, const std::string& own_version);

// At exit, after the last request: leaves `text` as this version's final counts, removing the
// final file an earlier version left. Fails with the file and errno.
Result<void> leaveFinalMetrics(const std::string& control_socket, pid_t self, const std::string& text);

// At a start without a predecessor: removes the sockets and final files of versions that no
// longer run (a previous run's), so their counts are not served again.
void removeStalePeerMetrics(const std::string& control_socket);

}  // namespace hotgate

// Worker: one thread, one io_context, its listening sockets, its own upstream pools. Nothing on
// the request path is shared between workers except atomic counters and the immutable config,
// so workers never wait on each other.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/unique_fd.h"
#include "proxy/asio.h"
#include "proxy/parked_connections.h"
#include "proxy/serving_context.h"
#include "proxy/upstream_pool.h"

namespace hotgate {

class HttpConnection;

// A listening socket a worker accepts on, and the listener (index into config.listeners) it belongs to.
struct ListeningSocket {
    std::size_t listener = 0;
    UniqueFd fd;
};

class Worker {
public:
    // `sockets` are already listening. With `accepting` false the worker holds them without
    // accepting until resumeAccepting() (a successor in takeover mode before cutover).
    Worker(std::size_t index, ServingContext& context, std::vector<ListeningSocket> sockets, bool accepting = true);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void start();

    // Stops and restarts accepting on this worker's listening sockets, which stay open (their
    // queues are shared with the other version in takeover mode). Thread-safe.
    void pauseAccepting();
    void resumeAccepting();

    // Closes the listening sockets, then per context.drain_mode either closes the connections
    // idle between requests (Close) or hands every connection over at its next request
    // boundary (HandOff); requests in progress finish. Thread-safe.
    void beginDrain();

    // The drain ran out: every HTTP/2 connection resets its open streams (RST_STREAM CANCEL) and
    // sends its final GOAWAY, so its clients see each stream end rather than the connection
    // break when the process stops (docs/http2.md). Thread-safe.
    void cutHttp2Streams();

    // Serves a connection handed over by another version. Thread-safe; takes `fd`.
    void adopt(std::size_t listener, int fd, std::string already_read);
    // Serves a loopback connection of `gwctl verify` as a shadow connection (HttpConnection::
    // Shadow). Thread-safe; takes `fd`.
    void serveShadow(int fd);

    // Stops the event loop (whatever is still open is dropped) and joins the thread.
    void stop();

    // This worker's listening fds of `listener` (for handing them to a successor).
    std::vector<int> listeningFds(std::size_t listener) const;

    ServingContext& context() { return context_; }
    std::size_t index() const { return index_; }

    // This worker's upstream pools for `snapshot` (worker thread only). The first request of a
    // newer snapshot builds them: endpoints that stay keep their pooled connections and health,
    // endpoints that went are retired (idle connections closed, in-flight ones finish).
    std::shared_ptr<UpstreamPools> pools(const ServingSnapshot& snapshot);

    // Called after a snapshot was published: retires removed endpoints now, even if no request
    // comes to this worker. Thread-safe.
    void snapshotPublished();

    // Runs a connection's request loop on this worker until it ends or parks (accepted, drained
    // from the queue, adopted, or woken from its idle wait). Worker thread only.
    void serve(std::shared_ptr<HttpConnection> connection);

    // Parks an idle keep-alive connection's socket (moved from `socket`) until it is readable,
    // then serves it again; false while the worker drains (the socket stays with the caller).
    // Worker thread only. See ParkedConnections.
    bool park(tcp::socket& socket, std::size_t listener, std::optional<asio::ip::address> peer,
              std::chrono::steady_clock::duration idle_left) {
        return parked_.park(socket, listener, std::move(peer), idle_left);
    }

    // Connection registry for drain; called on the worker's thread only.
    void track(HttpConnection* connection) { connections_.insert(connection); }
    void untrack(HttpConnection* connection) { connections_.erase(connection); }

private:
    struct Acceptor {
        std::size_t listener;
        std::unique_ptr<tcp::acceptor> socket;
    };

    awaitable<void> acceptLoop(Acceptor& acceptor);
    awaitable<void> refuseOverLimit(tcp::socket socket, std::size_t listener);
    void spawnAcceptLoops();

    std::size_t index_;
    ServingContext& context_;
    // Declared before io_ so it outlives it: destroying io_ destroys the suspended connection
    // coroutines, whose destructors untrack themselves here.
    std::unordered_set<HttpConnection*> connections_;
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    // Declared after io_ so it is destroyed first (its sockets belong to io_).
    ParkedConnections parked_;
    std::vector<Acceptor> acceptors_;
    std::shared_ptr<UpstreamPools> pools_;  // of the newest snapshot this worker has seen
    // "<cluster>/<endpoint>" -> its state on this worker, for the endpoints pools_ uses.
    std::map<std::string, std::shared_ptr<UpstreamEndpoint>> endpoints_;
    // cluster name -> its retry budget on this worker, kept across snapshots.
    std::map<std::string, std::shared_ptr<RetryBudget>> budgets_;
    bool accepting_;        // worker thread only
    unsigned accept_epoch_ = 0;  // bumps on pause so stale loops exit; worker thread only
    std::thread thread_;
};

}  // namespace hotgate

// Worker: one thread, one io_context, one listening socket per listener, its own upstream
// pools. Nothing on the request path is shared between workers except atomic counters and
// the immutable config, so workers never wait on each other.
#pragma once

#include <memory>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/unique_fd.h"
#include "proxy/asio.h"
#include "proxy/serving_context.h"
#include "proxy/upstream_pool.h"

namespace hotgate {

class HttpConnection;

class Worker {
public:
    // `listen_fds[i]` is this worker's socket of config.listeners[i], already listening.
    Worker(std::size_t index, ServingContext& context, std::vector<UniqueFd> listen_fds);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void start();
    // Closes the listening sockets and the connections idle between requests; requests in
    // progress finish. Thread-safe (posts to the worker).
    void beginDrain();
    // Stops the event loop (whatever is still open is dropped) and joins the thread.
    void stop();

    ServingContext& context() { return context_; }
    UpstreamPool& pool(std::size_t cluster) { return *pools_[cluster]; }

    // Connection registry for drain; called on the worker's thread only.
    void track(HttpConnection* connection) { connections_.insert(connection); }
    void untrack(HttpConnection* connection) { connections_.erase(connection); }

private:
    awaitable<void> acceptLoop(std::size_t listener);
    awaitable<void> refuseOverLimit(tcp::socket socket, std::size_t listener);

    std::size_t index_;
    ServingContext& context_;
    // Declared before io_ so it outlives it: destroying io_ destroys the suspended connection
    // coroutines, whose destructors untrack themselves here.
    std::unordered_set<HttpConnection*> connections_;
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
    std::vector<std::unique_ptr<UpstreamPool>> pools_;
    std::thread thread_;
};

}  // namespace hotgate

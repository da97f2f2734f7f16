#include "proxy/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include "observability/logging.h"
#include "proxy/deadline.h"
#include "proxy/http_connection.h"
#include "tls/upstream_context.h"

namespace hotgate {

Worker::Worker(std::size_t index, ServingContext& context, std::vector<ListeningSocket> sockets, bool accepting)
    : index_(index),
      context_(context),
      work_(io_.get_executor()),
      parked_(io_, context_,
              [this](tcp::socket socket, std::size_t listener, std::optional<asio::ip::address> peer) {
                  serve(std::make_shared<HttpConnection>(*this, listener, std::move(socket), std::move(peer),
                                                         HttpConnection::Unparked{}));
              }),
      accepting_(accepting) {
    const auto config_snapshot = context_.config();
    const auto& config = *config_snapshot;
    for (auto& socket : sockets) {
        const bool v6 = config.listeners[socket.listener].address.ip.find(':') != std::string::npos;
        auto acceptor = std::make_unique<tcp::acceptor>(io_, v6 ? tcp::v6() : tcp::v4(), socket.fd.release());
        // Set once here, on the listening socket (also one inherited from another version):
        // accepted sockets inherit it, so no connection pays a setsockopt for it.
        error_code ec;
        acceptor->set_option(tcp::no_delay(true), ec);
        if (ec) log::warn("worker ", index_, ": TCP_NODELAY on listener ", config.listeners[socket.listener].name, ": ", ec.message());
        acceptors_.push_back({socket.listener, std::move(acceptor)});
    }
}

Worker::~Worker() {
    stop();
    // Pooled connections point back at their endpoint: break the cycle.
    for (auto& [key, endpoint] : endpoints_) endpoint->idle.clear();
}

std::shared_ptr<UpstreamPools> Worker::pools(const ServingSnapshot& snapshot) {
    if (pools_ && pools_->generation == snapshot.generation) return pools_;
    const auto& config = *snapshot.config;
    const auto now = std::chrono::steady_clock::now();
    auto built = std::make_shared<UpstreamPools>();
    built->generation = snapshot.generation;
    built->series = snapshot.series;
    std::map<std::string, std::shared_ptr<UpstreamEndpoint>> endpoints;
    std::map<std::string, std::shared_ptr<RetryBudget>> budgets;
    for (std::size_t c = 0; c < config.clusters.size(); ++c) {
        const auto& cluster = config.clusters[c];
        UpstreamPool::Settings settings;
        settings.cluster = &cluster;
        settings.hash = snapshot.cluster_hash[c];
        settings.worker = static_cast<unsigned>(index_);
        std::string tls_identity;  // pooled connections are only reused under the same TLS settings
        if (cluster.tls) {
            auto made = tls::makeUpstreamContext(cluster.name, *cluster.tls);
            if (made) settings.tls = std::move(*made);
            else log::error(made.error().message, "; connections to it will fail");  // pre-checked at apply
            tls_identity = "/tls/" + cluster.tls->sni + "/" + cluster.tls->ca_file + (cluster.tls->verify ? "" : "/noverify");
        }
        auto& budget = budgets[cluster.name];
        if (auto found = budgets_.find(cluster.name); found != budgets_.end()) budget = found->second;
        else budget = std::make_shared<RetryBudget>();
        settings.budget = budget;
        std::vector<std::shared_ptr<UpstreamEndpoint>> members;
        for (const auto& member : cluster.endpoints) {
            const std::string key = cluster.name + "/" + member.address.toString() + tls_identity;
            auto found = endpoints_.find(key);
            std::shared_ptr<UpstreamEndpoint> endpoint;
            if (found != endpoints_.end()) {
                endpoint = found->second;
            } else {
                endpoint = std::make_shared<UpstreamEndpoint>();
                endpoint->address = tcp::endpoint(asio::ip::make_address(member.address.ip), member.address.port);
                endpoint->label = member.address.toString();
                endpoint->report = context_.upstream_board.report(cluster.name, member.address);
                // Slow start is for endpoints that join a running cluster, not for the first set.
                if (pools_) endpoint->joined = now;
            }
            endpoint->max_idle = cluster.max_idle_per_endpoint;
            endpoints[key] = endpoint;
            members.push_back(std::move(endpoint));
        }
        built->clusters.push_back(std::make_unique<UpstreamPool>(io_.get_executor(), settings, std::move(members),
                                                                 snapshot.series->clusters[c]));
    }
    // A request of an older snapshot (it cannot happen on one thread, but never undo a newer
    // set): serve it with its own pools without making them current.
    if (pools_ && snapshot.generation < pools_->generation) return built;
    for (auto& [key, endpoint] : endpoints_) {
        if (endpoints.count(key)) continue;
        endpoint->retired = true;
        endpoint->idle.clear();
    }
    endpoints_ = std::move(endpoints);
    budgets_ = std::move(budgets);
    pools_ = built;
    return built;
}

void Worker::snapshotPublished() {
    asio::post(io_, [this] { pools(*context_.current()); });
}

void Worker::start() {
    // The pools of the snapshot the worker starts with: their endpoints are the first set, which
    // never slow-starts, whether or not a request comes before the next snapshot.
    asio::post(io_, [this] { pools(*context_.current()); });
    if (accepting_) spawnAcceptLoops();
    thread_ = std::thread([this] { io_.run(); });
}

void Worker::spawnAcceptLoops() {
    for (auto& acceptor : acceptors_) asio::co_spawn(io_, acceptLoop(acceptor), asio::detached);
}

void Worker::pauseAccepting() {
    asio::post(io_, [this] {
        if (!accepting_) return;
        accepting_ = false;
        ++accept_epoch_;
        for (auto& acceptor : acceptors_) {
            error_code ignored;
            acceptor.socket->cancel(ignored);
        }
    });
}

void Worker::resumeAccepting() {
    asio::post(io_, [this] {
        if (accepting_) return;
        accepting_ = true;
        ++accept_epoch_;
        spawnAcceptLoops();
    });
}

void Worker::beginDrain() {
    asio::post(io_, [this] {
        accepting_ = false;
        ++accept_epoch_;
        const bool hand_off = context_.drain_mode.load() == DrainMode::HandOff;
        for (auto& acceptor : acceptors_) {
            error_code ec;
            // Stopping for good (SIGTERM): serve what already sits in the accept queue, since
            // closing a listener resets its queued connections. (At an upgrade the queue
            // migrates to the next version, or is shared with it, instead.)
            if (!hand_off && acceptor.socket->is_open()) {
                acceptor.socket->non_blocking(true, ec);
                for (int taken = 0; !ec && taken < 4096; ++taken) {
                    tcp::endpoint peer;
                    tcp::socket socket = acceptor.socket->accept(peer, ec);
                    if (ec) break;
                    serve(std::make_shared<HttpConnection>(*this, acceptor.listener, std::move(socket), peer.address()));
                }
            }
            acceptor.socket->close(ec);
        }
        for (auto& [key, endpoint] : endpoints_) endpoint->idle.clear();
        parked_.drain(hand_off);
        // Copy: either call may end a connection, which untracks it.
        const std::vector<HttpConnection*> open(connections_.begin(), connections_.end());
        for (auto* connection : open) {
            if (hand_off) connection->handOffAtBoundary();
            else connection->closeIfIdle();
        }
    });
}

void Worker::cutHttp2Streams() {
    asio::post(io_, [this] {
        const std::vector<HttpConnection*> open(connections_.begin(), connections_.end());
        for (auto* connection : open) connection->cutHttp2Streams();
    });
}

void Worker::adopt(std::size_t listener, int fd, std::string already_read) {
    asio::post(io_, [this, listener, fd, bytes = std::move(already_read)] {
        const bool v6 = context_.config()->listeners[listener].address.ip.find(':') != std::string::npos;
        error_code ec;
        tcp::socket socket(io_);
        socket.assign(v6 ? tcp::v6() : tcp::v4(), fd, ec);
        if (ec) {
            ::close(fd);
            return;
        }
        context_.metrics.recordAdopted(listener);
        const auto peer = socket.remote_endpoint(ec);
        std::optional<asio::ip::address> address;
        if (!ec) address = peer.address();
        serve(std::make_shared<HttpConnection>(*this, listener, std::move(socket), address, bytes));
    });
}

void Worker::serveShadow(int fd) {
    asio::post(io_, [this, fd] {
        error_code ec;
        tcp::socket socket(io_);
        socket.assign(tcp::v4(), fd, ec);
        if (ec) {
            ::close(fd);
            return;
        }
        socket.set_option(tcp::no_delay(true), ec);
        serve(std::make_shared<HttpConnection>(*this, std::move(socket), HttpConnection::Shadow{}));
    });
}

void Worker::serve(std::shared_ptr<HttpConnection> connection) {
    // The lambda (and so the shared_ptr) lives in co_spawn's frame until run() completes;
    // spawning connection->run() directly would let the connection die before it starts.
    asio::co_spawn(
        io_, [connection = std::move(connection)] { return connection->run(); }, asio::detached);
}

void Worker::stop() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
}

std::vector<int> Worker::listeningFds(std::size_t listener) const {
    std::vector<int> fds;
    for (const auto& acceptor : acceptors_)
        if (acceptor.listener == listener && acceptor.socket->is_open())
            fds.push_back(const_cast<tcp::acceptor&>(*acceptor.socket).native_handle());
    return fds;
}

awaitable<void> Worker::acceptLoop(Acceptor& acceptor) {
    const unsigned epoch = accept_epoch_;
    const std::string name = context_.config()->listeners[acceptor.listener].name;
    for (;;) {
        error_code ec;
        tcp::endpoint peer;  // filled by accept() itself: no getpeername per connection
        tcp::socket socket = co_await acceptor.socket->async_accept(peer, withError(ec));
        if (epoch != accept_epoch_) {
            // Paused, resumed or drained meanwhile. A connection accepted in that instant is
            // still served: dropping it would fail a request.
            if (!ec) {
                serve(std::make_shared<HttpConnection>(*this, acceptor.listener, std::move(socket), peer.address()));
            }
            co_return;
        }
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.socket->is_open()) co_return;
            log::warn("worker ", index_, " listener ", name, ": accept failed: ", ec.message());
            if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
                // Out of fds: back off instead of spinning; queued connections wait in the backlog.
                asio::steady_timer pause(io_, std::chrono::milliseconds(50));
                co_await pause.async_wait(withError(ec));
            }
            continue;
        }
        if (context_.open_connections.load(std::memory_order_relaxed) >=
            context_.current()->config->limits.max_connections) {
            asio::co_spawn(io_, refuseOverLimit(std::move(socket), acceptor.listener), asio::detached);
            continue;
        }
        serve(std::make_shared<HttpConnection>(*this, acceptor.listener, std::move(socket), peer.address()));
    }
}

awaitable<void> Worker::refuseOverLimit(tcp::socket socket, std::size_t listener) {
    context_.metrics.recordRejected(listener, RejectReason::MaxConnections);
    const auto snapshot = context_.current();
    context_.metrics.recordRequest(*snapshot->series, listener, std::nullopt, 503, 0.0);
    const std::string response =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        "Content-Length: 21\r\nConnection: close\r\nx-hotgate-version: " +
        snapshot->version + "\r\n\r\ntoo many connections\n";
    error_code ec;
    co_await asio::async_write(socket, asio::buffer(response), withError(ec));
    // Half-close and wait briefly for the client's FIN, so unread request bytes do not turn
    // our close into a reset that would destroy the 503 before the client reads it.
    socket.shutdown(tcp::socket::shutdown_send, ec);
    Deadline limit(io_.get_executor());
    limit.arm(std::chrono::seconds(1), socket);
    std::array<char, 4096> sink;
    while (!ec) co_await socket.async_read_some(asio::buffer(sink), withError(ec));
    limit.disarm();
    socket.close(ec);
}

}  // namespace hotgate

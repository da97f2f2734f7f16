#include "proxy/upstream_pool.h"

#include <sys/socket.h>

#include "proxy/deadline.h"

namespace hotgate {
namespace {

// How long an endpoint that failed a connect is skipped. Short: it is only there so that one
// dead endpoint does not cost every request a failed connect first.
constexpr std::chrono::seconds kDownInterval{1};

// True when a pooled connection still looks usable: no EOF and no unexpected bytes waiting.
// An upstream that closed an idle keep-alive connection is seen here, before a request is lost on it.
bool stillOpen(tcp::socket& socket) {
    char probe;
    const ssize_t n = ::recv(socket.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

UpstreamPool::UpstreamPool(asio::any_io_executor executor, const ClusterConfig& cluster, std::size_t cluster_index,
                           Metrics& metrics)
    : executor_(std::move(executor)),
      cluster_name_(cluster.name),
      cluster_index_(cluster_index),
      max_idle_(cluster.max_idle_per_endpoint),
      metrics_(metrics) {
    for (const auto& address : cluster.endpoints) {
        Endpoint endpoint;
        endpoint.address = tcp::endpoint(asio::ip::make_address(address.ip), address.port);
        endpoint.label = address.toString();
        endpoints_.push_back(std::move(endpoint));
    }
}

std::optional<std::size_t> UpstreamPool::pickEndpoint() {
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
        const std::size_t index = next_++ % endpoints_.size();
        if (endpoints_[index].down_until <= now) return index;
    }
    return std::nullopt;
}

std::unique_ptr<UpstreamConnection> UpstreamPool::takeIdle(Endpoint& endpoint) {
    while (!endpoint.idle.empty()) {
        auto connection = std::move(endpoint.idle.back());
        endpoint.idle.pop_back();
        if (stillOpen(connection->socket)) {
            connection->reused = true;
            return connection;
        }
    }
    return nullptr;
}

awaitable<UpstreamAcquisition> UpstreamPool::acquire(std::chrono::milliseconds connect_timeout, bool fresh_only) {
    UpstreamAcquisition result;
    result.error_status = 503;
    result.error = "no healthy upstream in cluster " + cluster_name_;
    for (std::size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
        const auto index = pickEndpoint();
        if (!index) break;
        Endpoint& endpoint = endpoints_[*index];
        if (!fresh_only) {
            if (auto idle = takeIdle(endpoint)) {
                result.connection = std::move(idle);
                co_return result;
            }
        }
        auto connection = std::make_unique<UpstreamConnection>(executor_);
        connection->endpoint = *index;
        Deadline deadline(executor_);
        error_code ec;
        connection->socket.open(endpoint.address.protocol(), ec);
        if (!ec) {
            deadline.arm(connect_timeout, connection->socket);
            co_await connection->socket.async_connect(endpoint.address, withError(ec));
            deadline.disarm();
        }
        if (!ec) {
            connection->socket.set_option(tcp::no_delay(true), ec);
            result.connection = std::move(connection);
            co_return result;
        }
        endpoint.down_until = std::chrono::steady_clock::now() + kDownInterval;
        if (deadline.expired()) {
            metrics_.recordUpstreamTimeout(cluster_index_, UpstreamPhase::Connect);
            result.error_status = 504;
            result.error = "upstream connect timeout: " + endpoint.label;
        } else {
            metrics_.recordUpstreamConnectError(cluster_index_);
            result.error_status = 502;
            result.error = "upstream connect failed: " + endpoint.label + ": " + ec.message();
        }
    }
    co_return result;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> connection) {
    auto& endpoint = endpoints_[connection->endpoint];
    if (endpoint.idle.size() >= max_idle_ || connection->buffer.size() != 0) return;  // closed by destructor
    endpoint.idle.push_back(std::move(connection));
}

void UpstreamPool::closeIdle() {
    for (auto& endpoint : endpoints_) endpoint.idle.clear();
}

}  // namespace hotgate

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

UpstreamPool::UpstreamPool(asio::any_io_executor executor, std::string cluster_name,
                           std::vector<std::shared_ptr<UpstreamEndpoint>> endpoints,
                           const Metrics::ClusterSeries& series, std::shared_ptr<asio::ssl::context> tls,
                           std::string tls_server_name)
    : executor_(std::move(executor)),
      cluster_name_(std::move(cluster_name)),
      endpoints_(std::move(endpoints)),
      series_(series),
      tls_(std::move(tls)),
      tls_server_name_(std::move(tls_server_name)) {}

std::optional<std::size_t> UpstreamPool::pickEndpoint() {
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
        const std::size_t index = next_++ % endpoints_.size();
        if (endpoints_[index]->down_until <= now) return index;
    }
    return std::nullopt;
}

std::unique_ptr<UpstreamConnection> UpstreamPool::takeIdle(UpstreamEndpoint& endpoint) {
    while (!endpoint.idle.empty()) {
        auto connection = std::move(endpoint.idle.back());
        endpoint.idle.pop_back();
        if (stillOpen(connection->stream.socket())) {
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
        UpstreamEndpoint& endpoint = *endpoints_[*index];
        if (!fresh_only) {
            if (auto idle = takeIdle(endpoint)) {
                result.connection = std::move(idle);
                co_return result;
            }
        }
        auto connection = std::make_unique<UpstreamConnection>(executor_);
        connection->endpoint = endpoints_[*index];
        Deadline deadline(executor_);
        error_code ec;
        tcp::socket& socket = connection->stream.socket();
        socket.open(endpoint.address.protocol(), ec);
        if (!ec) {
            deadline.arm(connect_timeout, socket);
            co_await socket.async_connect(endpoint.address, withError(ec));
            deadline.disarm();
        }
        if (!ec) socket.set_option(tcp::no_delay(true), ec);
        bool tls_failed = false;
        if (!ec && tls_) {
            // The TLS handshake counts as part of the connect, under the same timeout.
            connection->stream.startClientTls(tls_, tls_server_name_);
            deadline.arm(connect_timeout, socket);
            co_await connection->stream.handshake(withError(ec));
            deadline.disarm();
            tls_failed = static_cast<bool>(ec);
        }
        if (!ec) {
            result.connection = std::move(connection);
            co_return result;
        }
        endpoint.down_until = std::chrono::steady_clock::now() + kDownInterval;
        if (tls_failed && !deadline.expired()) {
            Metrics::recordUpstreamConnectError(series_);
            result.error_status = 502;
            result.error = "upstream TLS handshake failed: " + endpoint.label + ": " + ec.message();
            continue;
        }
        if (deadline.expired()) {
            Metrics::recordUpstreamTimeout(series_, UpstreamPhase::Connect);
            result.error_status = 504;
            result.error = "upstream connect timeout: " + endpoint.label;
        } else {
            Metrics::recordUpstreamConnectError(series_);
            result.error_status = 502;
            result.error = "upstream connect failed: " + endpoint.label + ": " + ec.message();
        }
    }
    co_return result;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> connection) {
    auto endpoint = connection->endpoint;
    if (endpoint->retired || endpoint->idle.size() >= endpoint->max_idle || connection->buffer.size() != 0)
        return;  // closed by the destructor
    endpoint->idle.push_back(std::move(connection));
}

}  // namespace hotgate

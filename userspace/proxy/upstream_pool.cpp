#include "proxy/upstream_pool.h"

#include <sys/socket.h>

#include <algorithm>

#include "observability/logging.h"
#include "proxy/deadline.h"
#include "proxy/h2/upstream_session.h"

namespace hotgate {
namespace {

// How long an endpoint that failed a connect is skipped. Short: it is only there so that one
// dead endpoint does not cost every request a failed connect first.
constexpr std::chrono::seconds kDownInterval{1};

// The least share of its weight an endpoint in slow start gets.
constexpr double kSlowStartFloor = 0.1;

// True when a pooled connection still looks usable: no EOF and no unexpected bytes waiting.
// An upstream that closed an idle keep-alive connection is seen here, before a request is lost on it.
bool stillOpen(tcp::socket& socket) {
    char probe;
    const ssize_t n = ::recv(socket.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Whether the TLS handshake agreed on h2 (ALPN).
bool alpnIsH2(SSL* ssl) {
    const unsigned char* selected = nullptr;
    unsigned length = 0;
    SSL_get0_alpn_selected(ssl, &selected, &length);
    return length == 2 && selected[0] == 'h' && selected[1] == '2';
}

}  // namespace

UpstreamPool::UpstreamPool(asio::any_io_executor executor, const Settings& settings,
                           std::vector<std::shared_ptr<UpstreamEndpoint>> endpoints,
                           const Metrics::ClusterSeries& series)
    : executor_(std::move(executor)),
      cluster_name_(settings.cluster->name),
      policy_(settings.cluster->lb.policy),
      hash_key_(settings.cluster->lb.hash_key),
      uniform_weights_(true),
      outlier_(settings.cluster->outlier_detection),
      slow_start_(settings.cluster->slow_start),
      retries_(settings.cluster->retries),
      hash_(settings.hash),
      budget_(settings.budget ? settings.budget : std::make_shared<RetryBudget>()),
      worker_(settings.worker),
      endpoints_(std::move(endpoints)),
      series_(series),
      tls_(settings.tls),
      tls_server_name_(settings.cluster->tls ? settings.cluster->tls->sni : std::string()),
      limits_(settings.cluster->limits),
      protocol_(settings.cluster->protocol),
      http2_(settings.cluster->http2),
      current_weight_(endpoints_.size(), 0.0),
      random_(static_cast<std::minstd_rand::result_type>(std::random_device{}())) {
    for (const auto& endpoint : settings.cluster->endpoints) {
        weights_.push_back(endpoint.weight);
        if (endpoint.weight != settings.cluster->endpoints.front().weight) uniform_weights_ = false;
    }
}

double UpstreamPool::effectiveWeight(std::size_t index, Clock::time_point now) const {
    const double weight = weights_[index];
    if (slow_start_.count() == 0) return weight;
    const auto& endpoint = *endpoints_[index];
    const auto since = std::max(endpoint.joined, endpoint.outlier.backSince());
    if (since == Clock::time_point{} || now - since >= slow_start_) return weight;
    const double ramp = std::chrono::duration<double>(now - since) / slow_start_;
    return weight * std::max(kSlowStartFloor, ramp);
}

std::optional<std::size_t> UpstreamPool::pickEndpoint(const EndpointChoice& choice) {
    const auto now = Clock::now();
    const std::size_t n = endpoints_.size();
    if (policy_ == LbPolicy::RoundRobin && uniform_weights_ && slow_start_.count() == 0 && !outlier_ &&
        choice.tried.empty()) {
        // Plain round robin, the default: no weights, ramps or ejections to weigh.
        return nextInTurn([&](std::size_t index) { return endpoints_[index]->down_until <= now; });
    }
    // Up (no failed connect in the last second) and, with outlier detection, not ejected;
    // when every endpoint that is up is ejected, ejections are ignored (panic).
    std::vector<bool> candidate(n, false);
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
        auto& endpoint = *endpoints_[i];
        candidate[i] = endpoint.down_until <= now && !(outlier_ && endpoint.outlier.ejected(now));
        any = any || candidate[i];
    }
    if (!any && outlier_) {
        for (std::size_t i = 0; i < n; ++i) candidate[i] = endpoints_[i]->down_until <= now;
        if (std::find(candidate.begin(), candidate.end(), true) != candidate.end()) series_.panics->Increment();
    }
    // Endpoints the request tried already are avoided while another can serve it.
    std::vector<bool> untried = candidate;
    for (const std::size_t i : choice.tried)
        if (i < n) untried[i] = false;
    if (std::find(untried.begin(), untried.end(), true) != untried.end()) candidate = std::move(untried);
    if (std::find(candidate.begin(), candidate.end(), true) == candidate.end()) return std::nullopt;

    switch (policy_) {
        case LbPolicy::RingHash:
        case LbPolicy::Maglev:
            if (hash_ && choice.key_hash) {
                if (auto index = pickByHash(*choice.key_hash, candidate)) return index;
            }
            return pickRoundRobin(candidate, now);
        case LbPolicy::LeastRequest: return pickLeastRequest(candidate, now);
        case LbPolicy::RoundRobin: break;
    }
    return pickRoundRobin(candidate, now);
}

std::optional<std::size_t> UpstreamPool::pickByHash(std::uint64_t key_hash, const std::vector<bool>& candidate) const {
    // The key's own endpoint, else the same sequence of fallbacks in every worker and version.
    const unsigned rounds = static_cast<unsigned>(2 * endpoints_.size()) + 1;
    std::uint64_t hash = key_hash;
    for (unsigned round = 1; round <= rounds; ++round) {
        const auto index = hash_->pick(hash);
        if (index && *index < candidate.size() && candidate[*index]) return index;
        hash = lb::fallbackHash(key_hash, round);
    }
    for (std::size_t i = 0; i < candidate.size(); ++i)
        if (candidate[i]) return i;
    return std::nullopt;
}

std::optional<std::size_t> UpstreamPool::pickRoundRobin(const std::vector<bool>& candidate, Clock::time_point now) {
    const std::size_t n = endpoints_.size();
    if (uniform_weights_ && slow_start_.count() == 0)
        return nextInTurn([&](std::size_t index) { return candidate[index]; });
    // Smooth weighted round robin: each candidate gains its weight, the richest is picked and
    // pays the total. Spreads an endpoint's turns evenly over the cycle.
    std::optional<std::size_t> best;
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!candidate[i]) continue;
        const double weight = effectiveWeight(i, now);
        current_weight_[i] += weight;
        total += weight;
        if (!best || current_weight_[i] > current_weight_[*best]) best = i;
    }
    if (best) current_weight_[*best] -= total;
    return best;
}

std::optional<std::size_t> UpstreamPool::pickLeastRequest(const std::vector<bool>& candidate, Clock::time_point now) {
    // Power of two choices: two random candidates, the one with fewer requests in flight for
    // its weight wins.
    const std::size_t n = endpoints_.size();
    auto randomCandidate = [&](std::optional<std::size_t> other) -> std::optional<std::size_t> {
        const std::size_t start = std::uniform_int_distribution<std::size_t>(0, n - 1)(random_);
        for (std::size_t step = 0; step < n; ++step) {
            const std::size_t index = (start + step) % n;
            if (candidate[index] && index != other) return index;
        }
        return std::nullopt;
    };
    const auto first = randomCandidate(std::nullopt);
    if (!first) return std::nullopt;
    const auto second = randomCandidate(first);
    if (!second) return first;
    const auto load = [&](std::size_t index) {
        return (endpoints_[index]->in_flight + 1.0) / effectiveWeight(index, now);
    };
    return load(*second) < load(*first) ? second : first;
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

awaitable<UpstreamAcquisition> UpstreamPool::acquire(const EndpointChoice& choice,
                                                     std::chrono::milliseconds connect_timeout, bool fresh_only) {
    UpstreamAcquisition result;
    const auto index = pickEndpoint(choice);
    if (!index) co_return noHealthyEndpoint();
    result.endpoint = index;
    UpstreamEndpoint& endpoint = *endpoints_[*index];
    if (!fresh_only) {
        if (auto idle = takeIdle(endpoint)) {
            result.connection = std::move(idle);
            co_return result;
        }
    }
    HOTGATE_CO_RETURN_AWAIT(connect(*index, connect_timeout));
}

awaitable<UpstreamAcquisition> UpstreamPool::connect(std::size_t index, std::chrono::milliseconds connect_timeout) {
    UpstreamAcquisition result;
    result.endpoint = index;
    UpstreamEndpoint& endpoint = *endpoints_[index];
    // A new connection: counted against max_connections from now (connecting included) until
    // it closes, and against max_pending_requests until the connect ends, either way.
    ClusterSlot counted(*counts_, ClusterLimit::MaxConnections, limits_.max_connections);
    if (!counted) co_return overflowed(ClusterLimit::MaxConnections);
    ClusterSlot pending(*counts_, ClusterLimit::MaxPendingRequests, limits_.max_pending_requests);
    if (!pending) co_return overflowed(ClusterLimit::MaxPendingRequests);
    auto connection = std::make_unique<UpstreamConnection>(executor_);
    connection->counted = std::move(counted);
    connection->endpoint = endpoints_[index];
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
        if (protocol_ == ClusterProtocol::H2) {
            static constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};
            SSL_set_alpn_protos(connection->stream.ssl(), kAlpnH2, sizeof kAlpnH2);
        }
        deadline.arm(connect_timeout, socket);
        co_await connection->stream.handshake(withError(ec));
        deadline.disarm();
        tls_failed = static_cast<bool>(ec);
        if (!ec && protocol_ == ClusterProtocol::H2 && !alpnIsH2(connection->stream.ssl())) {
            ec = asio::error::no_protocol_option;  // the endpoint would not speak h2
            tls_failed = true;
        }
    }
    pending.reset();
    if (!ec) {
        result.connection = std::move(connection);
        co_return result;
    }
    endpoint.down_until = Clock::now() + kDownInterval;
    recordOutcome(endpoint, TryOutcome::GatewayError);
    result.failure = TryFailure::ConnectFailed;
    result.error_status = 502;
    if (tls_failed && !deadline.expired()) {
        Metrics::recordUpstreamConnectError(series_);
        result.error = "upstream TLS handshake failed: " + endpoint.label + ": " + ec.message();
    } else if (deadline.expired()) {
        Metrics::recordUpstreamTimeout(series_, UpstreamPhase::Connect);
        result.error_status = 504;
        result.error = "upstream connect timeout: " + endpoint.label;
    } else {
        Metrics::recordUpstreamConnectError(series_);
        if (ec == asio::error::connection_refused) result.failure = TryFailure::ConnectRefused;
        result.error = "upstream connect failed: " + endpoint.label + ": " + ec.message();
    }
    co_return result;
}

awaitable<UpstreamAcquisition> UpstreamPool::acquireHttp2(const EndpointChoice& choice,
                                                          std::chrono::milliseconds connect_timeout,
                                                          std::chrono::milliseconds write_timeout) {
    UpstreamAcquisition result;
    const auto index = pickEndpoint(choice);
    if (!index) co_return noHealthyEndpoint();
    result.endpoint = index;
    std::shared_ptr<UpstreamEndpoint> endpoint = endpoints_[*index];
    const auto give_up = Clock::now() + connect_timeout;
    for (;;) {
        std::shared_ptr<h2::UpstreamSession> best;
        for (const auto& session : endpoint->h2)
            if (session->hasFreeStream() && (!best || session->openStreams() < best->openStreams())) best = session;
        if (best) {
            result.session = std::move(best);
            co_return result;
        }
        if (endpoint->h2.size() + endpoint->h2_connecting < http2_.connections_per_endpoint) {
            ++endpoint->h2_connecting;
            auto connected = co_await connect(*index, connect_timeout);
            --endpoint->h2_connecting;
            if (!connected.connection) co_return connected;
            auto session = std::make_shared<h2::UpstreamSession>(
                std::move(connected.connection), http2_.max_streams_per_connection, write_timeout);
            session->start();
            endpoint->h2.push_back(session);
            result.session = std::move(session);
            co_return result;
        }
        // Every connection is full: wait for a stream to end (or a connection to close).
        const auto now = Clock::now();
        if (now >= give_up) break;
        asio::steady_timer freed(executor_);
        freed.expires_at(give_up);
        endpoint->h2_waiters.push_back(&freed);
        error_code ignored;
        co_await freed.async_wait(withError(ignored));
        std::erase(endpoint->h2_waiters, &freed);
    }
    result.error_status = 503;
    result.error = "no free h2 stream to " + endpoint->label + " in cluster " + cluster_name_ + " (" +
                   std::to_string(http2_.connections_per_endpoint) + " connections of " +
                   std::to_string(http2_.max_streams_per_connection) + " streams busy)";
    co_return result;
}

UpstreamAcquisition UpstreamPool::noHealthyEndpoint() const {
    UpstreamAcquisition result;
    result.error_status = 503;
    result.error = "no healthy upstream in cluster " + cluster_name_;
    return result;
}

UpstreamAcquisition UpstreamPool::overflowed(ClusterLimit limit) const {
    UpstreamAcquisition result;
    result.error_status = 503;
    result.error = overflowText(limit);
    result.overflow = limit;
    return result;
}

std::string UpstreamPool::overflowText(ClusterLimit limit) const {
    std::uint64_t max = 0;
    switch (limit) {
        case ClusterLimit::MaxConnections: max = limits_.max_connections; break;
        case ClusterLimit::MaxPendingRequests: max = limits_.max_pending_requests; break;
        case ClusterLimit::MaxRequests: max = limits_.max_requests; break;
    }
    return "cluster " + cluster_name_ + " is at " + std::string(clusterLimitName(limit)) + " (" +
           std::to_string(max) + ")";
}

void UpstreamPool::release(std::unique_ptr<UpstreamConnection> connection) {
    auto endpoint = connection->endpoint;
    if (endpoint->retired || endpoint->idle.size() >= endpoint->max_idle || connection->buffer.size() != 0)
        return;  // closed by the destructor
    endpoint->idle.push_back(std::move(connection));
}

void UpstreamPool::recordOutcome(UpstreamEndpoint& endpoint, TryOutcome outcome) {
    if (!outlier_ || !endpoint.outlier.record(outcome, *outlier_)) return;
    const auto now = Clock::now();
    std::size_t ejected = 0;
    for (const auto& member : endpoints_)
        if (member.get() != &endpoint && member->outlier.ejected(now)) ++ejected;
    const std::size_t allowed = std::max<std::size_t>(1, endpoints_.size() * outlier_->max_ejection_percent / 100);
    if (ejected >= allowed) return;
    const auto until = endpoint.outlier.eject(*outlier_, now);
    if (endpoint.report) endpoint.report->ejected(worker_, until);
    log::warn("cluster ", cluster_name_, ": endpoint ", endpoint.label, " ejected for ",
              std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count(), " ms (ejection ",
              endpoint.outlier.timesEjected(), ", worker ", worker_, ")");
}

}  // namespace hotgate

// One request proxied to a cluster (HttpConnection::Exchange) and why it ended early
// (HttpConnection::ExchangeFailure): the state cluster_exchange.cpp (the steps of one try) and
// upstream_tries.cpp (picking endpoints and retrying) share. Private to those two files.
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/beast/websocket/rfc6455.hpp>

#include "proxy/cluster_limits.h"
#include "proxy/deadline.h"
#include "proxy/http1_framing.h"
#include "proxy/http_connection.h"
#include "proxy/request_trace.h"
#include "proxy/retry_policy.h"
#include "proxy/upstream_pool.h"

namespace hotgate {

struct HttpConnection::ExchangeFailure {
    enum class Kind {
        Answer,       // answer `status` with `text`
        RequestBody,  // the client's body could not be read (`ec`): 400, 408 or 413
        ClientGone,   // writing to the client failed: close, there is no one to answer
    };
    Kind kind = Kind::Answer;
    unsigned status = 502;
    std::string text;
    error_code ec;
    bool keep_alive = false;  // Answer: nothing of the request is left unread on the connection
    std::optional<ClusterLimit> overflow;  // Answer: 503 because the cluster is at this static limit

    static ExchangeFailure answer(unsigned status, std::string text, bool keep_alive = false) {
        return {Kind::Answer, status, std::move(text), {}, keep_alive, std::nullopt};
    }
    // 503 naming the limit (cluster_limits.h); answered with x-hotgate-overflow, never retried.
    static ExchangeFailure overflowed(ClusterLimit limit, std::string text, bool keep_alive) {
        return {Kind::Answer, 503, std::move(text), {}, keep_alive, limit};
    }
    static ExchangeFailure requestBody(error_code ec) { return {Kind::RequestBody, 0, {}, ec, false, std::nullopt}; }
    static ExchangeFailure clientGone() { return {Kind::ClientGone, 0, {}, {}, false, std::nullopt}; }
};

struct HttpConnection::Exchange {
    using Clock = std::chrono::steady_clock;

    Exchange(RequestParser& request_parser, std::size_t route_index, bool client_keep_alive,
             std::shared_ptr<UpstreamPools> held_pools, UpstreamPool& cluster_pool,
             const asio::any_io_executor& executor)
        : parser(request_parser),
          route(route_index),
          keep_alive(client_keep_alive),
          pools(std::move(held_pools)),
          pool(cluster_pool),
          upgrade(beast::websocket::is_upgrade(request_parser.get())),
          method(request_parser.get().method()),
          client_version(request_parser.get().version()),
          upstream_deadline(executor) {}

    RequestParser& parser;
    std::size_t route;
    bool keep_alive;  // as the client asked and the drain mode allows
    std::shared_ptr<UpstreamPools> pools;  // the request's snapshot's pools, held to its end
    UpstreamPool& pool;
    ClusterSlot request_slot;  // its unit of the cluster's request count, while max_requests is set
    bool upgrade;  // a WebSocket upgrade
    http::verb method;
    unsigned client_version;

    std::unique_ptr<char[]> request_chunk;  // for a request with a body only
    std::size_t first_piece = 0;  // body bytes read before the upstream was chosen
    EndpointChoice choice;        // the hash key and the endpoints tried so far
    unsigned attempts = 0;        // tries so far, this one included
    std::unique_ptr<UpstreamConnection> upstream;
    EndpointLoad load;            // counts the request in flight on the endpoint it is on
    std::uint64_t request_bytes_sent = 0;  // by this try
    Clock::time_point try_deadline = Clock::time_point::max();  // retries.per_try_timeout of this try
    Deadline upstream_deadline;       // every wait on the upstream, under timeouts.upstream_response
    error_code upstream_ec;           // the upstream connection failed (may be retried)
    bool upstream_timed_out = false;  // ... because timeouts.upstream_response or the per-try timeout passed
    bool try_timed_out = false;       // ... and it was the per-try timeout
    std::optional<http1::ResponseParser> response;
    http1::BodyFraming response_framing;
    Next next = Next::Close;
    unsigned relayed_status = 0;  // h2 clusters: the status relayed (there is no `response`)
    Clock::time_point stream_deadline = Clock::time_point::max();  // h2 clusters: a gRPC request's grpc-timeout
    RequestTrace trace;                 // its traceparent upstream, and whether it records a span
    std::uint64_t started_unix_nanos = 0;  // set when `trace` records a span
    // For the access log: the last try's endpoint and, when `timed` (the snapshot logs), its
    // time from sending the request to the response head.
    const UpstreamEndpoint* endpoint = nullptr;
    bool timed = false;
    Clock::time_point try_sent{};
    std::optional<Clock::duration> upstream_time;

    // Marks the start of a try (sending) and the arrival of its response head, when timed.
    void startTryClock(const UpstreamEndpoint* tried) {
        endpoint = tried;
        upstream_time.reset();
        if (timed) try_sent = Clock::now();
    }
    void stopTryClock() {
        if (timed) upstream_time = Clock::now() - try_sent;
    }

    // Arms upstream_deadline for one wait of this try: timeouts.upstream_response, or what is
    // left of the per-try timeout when that is sooner.
    void armUpstreamWait(std::chrono::milliseconds upstream_response) {
        auto timeout = std::chrono::duration_cast<Clock::duration>(upstream_response);
        per_try_binding_ = false;
        if (try_deadline != Clock::time_point::max()) {
            const auto left = std::max(Clock::duration(std::chrono::milliseconds(1)), try_deadline - Clock::now());
            if (left < timeout) {
                timeout = left;
                per_try_binding_ = true;
            }
        }
        upstream_deadline.arm(timeout, upstream->stream.socket());
    }
    // After a wait armed by armUpstreamWait failed: whether its deadline fired, and which.
    void noteUpstreamFailure(const error_code& ec) {
        upstream_ec = ec;
        upstream_timed_out = upstream_deadline.expired();
        try_timed_out = upstream_timed_out && per_try_binding_;
    }

private:
    bool per_try_binding_ = false;
};

}  // namespace hotgate

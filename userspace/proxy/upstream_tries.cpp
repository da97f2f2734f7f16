// The tries of one proxied request: pick an endpoint, send, read the response head, and on a
// failure decide whether to try again (retry_policy.h) on another endpoint, after a backoff,
// within the cluster's retry budget. Each try's outcome feeds outlier detection. A request the
// cluster's static limits refuse (cluster_limits.h) is answered 503 and counted, never retried,
// and held against no endpoint.
#include "observability/logging.h"
#include "proxy/exchange.h"

namespace hotgate {
namespace {

TryOutcome outcomeOf(unsigned status) {
    if (status == 502 || status == 503 || status == 504) return TryOutcome::GatewayError;
    if (status >= 500) return TryOutcome::ServerError;
    return TryOutcome::Success;
}

}  // namespace

awaitable<std::optional<HttpConnection::ExchangeFailure>> HttpConnection::exchangeWithUpstream(Exchange& x) {
    using Clock = std::chrono::steady_clock;
    const auto& timeouts = snapshot_->config->timeouts;
    const RetryConfig& retries = x.pool.retries();
    x.pool.bindCounts(context_.cluster_counts);
    auto overflow = [&x](ClusterLimit limit) {
        x.pool.series().overflows[static_cast<std::size_t>(limit)]->Increment();
        return ExchangeFailure::overflowed(limit, x.pool.overflowText(limit), x.keep_alive && x.parser.is_done());
    };
    // Counted from here until the response is relayed or fails; without max_requests, not at all.
    if (const std::uint64_t max_requests = x.pool.limits().max_requests; max_requests != 0) {
        x.request_slot = ClusterSlot(x.pool.counts(), ClusterLimit::MaxRequests, max_requests);
        if (!x.request_slot) co_return overflow(ClusterLimit::MaxRequests);
    }
    x.pool.budget().recordRequest(request_started_ == Clock::time_point{} ? Clock::now() : request_started_);
    std::optional<ExchangeFailure> previous;  // the last try's failure, answered if no endpoint is left
    bool stale_retry_used = false;            // the one new connection after a stale pooled one
    bool stale_retry = false;                 // this try is that one: it repeats a try, it is not a retry
    for (;;) {
        if (!stale_retry) ++x.attempts;
        auto connect_timeout = timeouts.upstream_connect;
        x.try_deadline = Clock::time_point::max();
        if (retries.per_try_timeout.count() > 0) {
            x.try_deadline = Clock::now() + retries.per_try_timeout;
            connect_timeout = std::min(connect_timeout, retries.per_try_timeout);
        }
        auto acquisition = co_await x.pool.acquire(x.choice, connect_timeout, x.upgrade || stale_retry);
        const bool whole_request = x.parser.is_done();
        ExchangeFailure answer = ExchangeFailure::answer(502, "", x.keep_alive && whole_request);
        std::optional<TryFailure> failure;
        bool on_reused = false;
        bool marked_retryable = false;
        if (acquisition.overflow) co_return overflow(*acquisition.overflow);
        if (!acquisition.connection) {
            answer.status = acquisition.error_status;
            answer.text = acquisition.error;
            if (!acquisition.failure) co_return previous ? *previous : answer;  // no endpoint left to try
            failure = acquisition.failure;
        } else {
            x.upstream = std::move(acquisition.connection);
            if (x.pool.policy() == LbPolicy::LeastRequest) x.load = EndpointLoad(x.upstream->endpoint);
            on_reused = x.upstream->reused;
            // An HTTP/1.0 client may send no Host; HTTP/1.1 to the upstream needs one.
            if (x.parser.get().count(http::field::host) == 0)
                x.parser.get().set(http::field::host, x.upstream->endpoint->label);
            x.upstream_ec = {};
            x.upstream_timed_out = false;
            x.try_timed_out = false;
            x.request_bytes_sent = 0;
            x.startTryClock(x.upstream->endpoint.get());
            if (auto client_failure = co_await sendRequest(x)) co_return client_failure;
            if (!x.upstream_ec) {
                if (auto bad_response = co_await readResponseHead(x)) co_return bad_response;
                if (!x.upstream_ec) x.stopTryClock();
            }
            UpstreamEndpoint& endpoint = *x.upstream->endpoint;
            if (!x.upstream_ec) {
                const auto& head = x.response->get();
                const unsigned status = head.result_int();
                const TryOutcome outcome = outcomeOf(status);
                x.pool.recordOutcome(endpoint, outcome);
                if (status == 101) x.request_slot = ClusterSlot();  // a tunnel is no request in flight
                if (outcome != TryOutcome::GatewayError) co_return std::nullopt;
                failure = TryFailure::GatewayErrorResponse;
                marked_retryable = head.count(kRetryableField) > 0;
            } else {
                // A pooled connection that was closed while idle is no mark against the endpoint.
                if (!on_reused || x.upstream_timed_out) x.pool.recordOutcome(endpoint, TryOutcome::GatewayError);
                log::debug("upstream exchange failed on cluster ", x.pool.clusterName(), " endpoint ", endpoint.label,
                           ": ", x.upstream_ec.message());
                if (x.upstream_timed_out && !x.try_timed_out) {
                    x.pool.recordTimeout(UpstreamPhase::Response);
                    co_return ExchangeFailure::answer(504, "upstream response timeout");
                }
                if (x.try_timed_out) {
                    failure = TryFailure::PerTryTimeout;
                    answer = ExchangeFailure::answer(504, "upstream per-try timeout");
                } else {
                    failure = x.request_bytes_sent == 0 ? TryFailure::ClosedBeforeRequest
                                                        : TryFailure::ClosedBeforeResponse;
                    answer = ExchangeFailure::answer(502, "upstream closed the connection before responding");
                }
            }
        }
        // Only the first piece of the body was read from the client, and it is still in hand,
        // unless the request was larger and this try sent some of it.
        const bool repeatable = isIdempotent(x.method) || x.parser.get().count("idempotency-key") > 0;
        const RetryFacts facts{repeatable, whole_request || x.request_bytes_sent == 0, marked_retryable};
        const auto condition = retryCondition(*failure, facts);
        // A pooled connection the endpoint closed while it sat idle (the keep-alive race) says
        // nothing about the endpoint: the request goes once more on a new connection, whatever
        // retries.on and attempts say, when the rules above allow sending it again.
        const bool stale_pooled = on_reused && !stale_retry_used && condition &&
                                  (failure == TryFailure::ClosedBeforeRequest ||
                                   failure == TryFailure::ClosedBeforeResponse);
        stale_retry = false;
        if (stale_pooled) {
            stale_retry_used = stale_retry = true;
            x.upstream.reset();
            x.load = EndpointLoad();
            continue;  // the same endpoint may take it
        }
        const bool retry = condition && retries.allows(*condition) && x.attempts < retries.attempts && !x.upgrade;
        if (!retry || !x.pool.budget().spend(Clock::now(), retries.budget_percent)) {
            if (retry) x.pool.series().retries_over_budget->Increment();
            if (failure == TryFailure::GatewayErrorResponse) co_return std::nullopt;  // relayed as it came
            co_return answer;
        }
        x.pool.series().retries[static_cast<std::size_t>(*condition)]->Increment();
        previous = answer;
        if (acquisition.endpoint) x.choice.tried.push_back(*acquisition.endpoint);  // the next try goes elsewhere
        x.upstream.reset();  // a failed try's connection is never pooled
        x.response.reset();
        x.load = EndpointLoad();
        asio::steady_timer backoff(client_.get_executor());
        backoff.expires_after(backoffDelay(retries.backoff, x.attempts, x.pool.random()));
        error_code ignored;
        co_await backoff.async_wait(withError(ignored));
    }
}

}  // namespace hotgate

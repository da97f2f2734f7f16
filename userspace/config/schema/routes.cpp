// routes[]: tried in order, the first whose match fits the request takes it, and either
// proxies to a cluster or answers itself.
#include "config/schema/cluster_values.h"
#include "config/schema/tables.h"

namespace hotgate::schema {
namespace {

Table<RouteMatch> matchTable() {
    using enum Applies;
    return {
        {
            // key, member, type and bounds, default, applies, doc
            {"host", &RouteMatch::host, HostMatch{}, kEmpty, InPlace, "the request's host; none: any host"},
            {"path_prefix", &RouteMatch::path_prefix, UrlPath{}, kEmpty, InPlace,
             "the request path starts with this (give it or path)"},
            {"path", &RouteMatch::path, UrlPath{}, kEmpty, InPlace, "the request path is exactly this"},
        },
        {{"path_prefix", "path"}},
    };
}

Table<DirectResponse> directResponseTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"status", &DirectResponse::status, Integer{200, 599}, "200", InPlace, "the answer's status code"},
        {"body", &DirectResponse::body, Text{}, kEmpty, InPlace, "the answer's body"},
    }};
}

}  // namespace

Table<RouteConfig> routeTable() {
    using enum Applies;
    return {
        {
            block("match", &RouteConfig::match, matchTable(),
                  Default::required("is required (use path_prefix: / to match everything)"),
                  "what a request must be for this route to take it"),
            // key, member, type and bounds, default, applies, doc
            {"cluster", &RouteConfig::cluster, ClusterName{}, kUnset, InPlace,
             "proxy to this cluster (give it or direct_response)"},
            optionalBlock("direct_response", &RouteConfig::direct_response, directResponseTable(),
                          "answer from the gateway itself"),
            {"critical", &RouteConfig::critical, Boolean{}, Default::addedLater("true"), InPlace,
             "false: the circuit breaker refuses this route's requests first, at L3 (docs/protection.md)"},
            optionalBlock("rate_limit", &RouteConfig::rate_limit, rateLimitTable(),
                          "a token bucket per key: a request over it gets 429 with Retry-After; the buckets "
                          "are shared by every worker and carried to the next version"),
            block("circuit_breaker", &RouteConfig::circuit_breaker, circuitBreakerOverrideTable(), kEmpty,
                  "this route's circuit breaker settings, each over the top level's"),
            {"shadow", &RouteConfig::shadow, Boolean{}, Default::addedLater("false"), InPlace,
             "gwctl verify mirrors this route's requests of every method, not only GET and HEAD; a "
             "non-idempotent one (POST, PATCH) is answered by each version's routing, never sent upstream"},
            {"stream_drain", &RouteConfig::stream_drain, DurationOrOff{}, Default::addedLater("off"), InPlace,
             "HTTP/2 streams of this route still open this long after the version's drain began (commit, "
             "rollback, SIGTERM) are ended, gRPC ones with UNAVAILABLE (retryable); off: at timeouts.drain, "
             "which also bounds it (docs/http2.md)"},
        },
        {{"cluster", "direct_response"}},
    };
}

}  // namespace hotgate::schema

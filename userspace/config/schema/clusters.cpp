// clusters[]: the upstream groups routes proxy to.
#include "config/schema/cluster_values.h"
#include "config/schema/tables.h"
#include "proxy/lb/maglev_table.h"

namespace hotgate::schema {
namespace {

Table<ClusterTlsConfig> clusterTlsTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"ca_file", &ClusterTlsConfig::ca_file, ConfigFile{}, kEmpty, InPlace,
         "PEM CAs to verify the endpoints against; none: the system's CAs"},
        {"sni", &ClusterTlsConfig::sni, HostName{}, kEmpty, InPlace,
         "server name sent, and required in the endpoint's certificate; none: none sent"},
        {"verify", &ClusterTlsConfig::verify, Boolean{}, "true", InPlace,
         "false: encrypt without checking who answers (tests and migrations only)"},
    }};
}

Table<LbConfig> lbTable() {
    using enum Applies;
    Table<LbConfig> table{{
        // key, member, type and bounds, default, applies, doc
        {"policy", &LbConfig::policy,
         Choice<LbPolicy>{{{"round_robin", LbPolicy::RoundRobin},
                           {"least_request", LbPolicy::LeastRequest},
                           {"ring_hash", LbPolicy::RingHash},
                           {"maglev", LbPolicy::Maglev}}},
         Default::addedLater("round_robin"), InPlace,
         "round_robin (weighted), least_request (power of two choices on requests in flight, weighted), "
         "ring_hash or maglev (consistent hashing on hash_key)"},
        {"hash_key", &LbConfig::hash_key, HashKey{}, Default::addedLater(""), InPlace,
         "what ring_hash and maglev hash; a request without it is sent round robin and counted "
         "(hotgate_upstream_hash_key_missing_total)"},
        {"table_size", &LbConfig::table_size, Integer{1, lb::MaglevTable::kMaxTableSize}, Default::addedLater("65537"),
         InPlace, "maglev: slots in the lookup table, a prime; ring_hash: the ring's minimum number of points"},
    }};
    table.checks.push_back([](Reader& reader, const YAML::Node& map, const std::string& path, const LbConfig& lb) {
        const bool hashing = lb.policy == LbPolicy::RingHash || lb.policy == LbPolicy::Maglev;
        const bool key_given = Reader::child(map, "hash_key").IsDefined();  // a bad one is reported already
        if (hashing && lb.hash_key.kind == HashKeySource::Kind::None && !key_given)
            reader.problem(map, Reader::join(path, "hash_key"), "ring_hash and maglev need a hash_key");
        if (!hashing && lb.hash_key.kind != HashKeySource::Kind::None)
            reader.problem(map, Reader::join(path, "hash_key"), "only ring_hash and maglev use a hash_key");
        if (lb.policy == LbPolicy::Maglev && !lb::isPrime(lb.table_size))
            reader.problem(map, Reader::join(path, "table_size"),
                           "maglev needs a prime table_size (e.g. 65537), got " + std::to_string(lb.table_size));
    });
    return table;
}

Table<OutlierDetectionConfig> outlierDetectionTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"consecutive_5xx", &OutlierDetectionConfig::consecutive_5xx, Integer{0, 1000}, "5", InPlace,
         "5xx answers in a row (the endpoint's own or hotgate's for it) that eject an endpoint; 0: off"},
        {"consecutive_gateway_errors", &OutlierDetectionConfig::consecutive_gateway_errors, Integer{0, 1000}, "3",
         InPlace, "502, 503 or 504 answers, failed connects or resets in a row that eject an endpoint; 0: off"},
        {"interval", &OutlierDetectionConfig::interval, Duration{}, "10s", InPlace,
         "an endpoint back without being ejected for this long forgets one past ejection"},
        {"base_ejection_time", &OutlierDetectionConfig::base_ejection_time, Duration{}, "30s", InPlace,
         "an ejection lasts this times the number of times the endpoint was ejected"},
        {"max_ejection_percent", &OutlierDetectionConfig::max_ejection_percent, Integer{0, 100}, "50", InPlace,
         "most endpoints ejected at once, in percent (one may always be); all ejected: all serve (panic)"},
    }};
}

Table<RetryConfig> retryTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"attempts", &RetryConfig::attempts, Integer{1, 10}, Default::addedLater("2"), InPlace,
         "tries of a request in all, the first included; 1: no retries"},
        {"on", &RetryConfig::on,
         SetOf<Choice<RetryOn>>{.item = {{{"connect-failure", RetryOn::ConnectFailure},
                                          {"refused", RetryOn::Refused},
                                          {"reset-before-response", RetryOn::ResetBeforeResponse},
                                          {"gateway-error", RetryOn::GatewayError}}},
                                .noun = "retry condition",
                                .duplicates = Duplicates::Merged,
                                .sorted = true,
                                .at_least_one = true},
         Default::addedLater("[connect-failure, refused]"), InPlace,
         "what a failed try may be retried on (no retries: attempts 1); a request the endpoint may have acted on (request bytes "
         "sent, no answer) is retried only when its method is idempotent or it has an Idempotency-Key. "
         "Besides, a request that failed on a pooled connection the endpoint had closed goes once more "
         "on a new one, under the same rule"},
        {"per_try_timeout", &RetryConfig::per_try_timeout, DurationOrOff{}, Default::addedLater("off"), InPlace,
         "a try without a response head by then is abandoned (a gateway-error); off: only "
         "timeouts.upstream_response"},
        {"budget_percent", &RetryConfig::budget_percent, Integer{0, 100}, Default::addedLater("20"), InPlace,
         "retries per worker at most this share of the cluster's requests over 10 s (and at least 5)"},
        {"backoff", &RetryConfig::backoff, Duration{}, Default::addedLater("25ms"), InPlace,
         "before retry n, a random wait up to backoff x 2^(n-1), at most 10 x backoff; none after "
         "a pooled connection the endpoint had closed"},
    }};
}

Table<ClusterLimitsConfig> clusterLimitsTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"max_connections", &ClusterLimitsConfig::max_connections, CountOrOff{}, Default::addedLater("off"), InPlace,
         "upstream connections open to the cluster's endpoints (idle pooled, busy and connecting), per process "
         "(all workers); a request that needs a new one at the limit gets 503"},
        {"max_pending_requests", &ClusterLimitsConfig::max_pending_requests, CountOrOff{}, Default::addedLater("off"),
         InPlace,
         "requests waiting for a new upstream connection to connect, per process (all workers); one more gets 503"},
        {"max_requests", &ClusterLimitsConfig::max_requests, CountOrOff{}, Default::addedLater("off"), InPlace,
         "requests in flight to the cluster (from picking an endpoint until the response is relayed or fails), "
         "per process (all workers); one more gets 503"},
    }};
}

Table<ClusterHttp2Config> clusterHttp2Table() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"connections_per_endpoint", &ClusterHttp2Config::connections_per_endpoint, Integer{1, 64},
         Default::addedLater("2"), InPlace,
         "h2 connections per endpoint per worker at most; a new one opens only when the others have no free "
         "stream"},
        {"max_streams_per_connection", &ClusterHttp2Config::max_streams_per_connection, Integer{1, 10000},
         Default::addedLater("100"), InPlace,
         "streams in flight on one h2 connection (or the endpoint's own SETTINGS limit, when lower); with every "
         "connection full a request waits up to timeouts.upstream_connect, then gets 503"},
    }};
}

}  // namespace

Table<ClusterConfig> clusterTable() {
    using enum Applies;
    Table<ClusterConfig> table{{
        // key, member, type and bounds, default, applies, doc
        {"endpoints", &ClusterConfig::endpoints,
         SetOf<Endpoint>{.noun = "endpoint", .duplicates = Duplicates::Refused, .sorted = true, .at_least_one = true},
         kRequired, InPlace, "the upstream addresses, each with its weight (its share of the requests)"},
        {"max_idle_per_endpoint", &ClusterConfig::max_idle_per_endpoint, Integer{0, 100'000}, "64", InPlace,
         "pooled idle upstream connections per endpoint per worker"},
        {"protocol", &ClusterConfig::protocol,
         Choice<ClusterProtocol>{{{"http1", ClusterProtocol::Http1}, {"h2", ClusterProtocol::H2}}},
         Default::addedLater("http1"), InPlace,
         "http1: HTTP/1.1 with pooled keep-alive connections; h2: HTTP/2 (prior knowledge, or ALPN h2 with tls), "
         "streams multiplexed on a few connections, trailers passed through: what gRPC needs (docs/http2.md)"},
        block("http2", &ClusterConfig::http2, clusterHttp2Table(), kEmpty, "h2 clusters: the connections per endpoint"),
        optionalBlock("tls", &ClusterConfig::tls, clusterTlsTable(), "TLS to the endpoints"),
        block("lb", &ClusterConfig::lb, lbTable(), kEmpty, "how a request's endpoint is picked (docs/routing.md)"),
        optionalBlock("outlier_detection", &ClusterConfig::outlier_detection, outlierDetectionTable(),
                      "passive ejection of failing endpoints, per worker; absent: none"),
        block("retries", &ClusterConfig::retries, retryTable(), kEmpty,
              "when a failed try is tried again, on another endpoint when there is one"),
        {"slow_start", &ClusterConfig::slow_start, DurationOrOff{}, Default::addedLater("off"), InPlace,
         "a new or returning endpoint's share ramps up over this (round_robin, least_request)"},
        block("limits", &ClusterConfig::limits, clusterLimitsTable(), kEmpty,
              "static limits per process: overflow is answered 503 with x-hotgate-overflow and counted in "
              "hotgate_cluster_overflow_total, never retried (docs/routing.md)"),
    }};
    table.checks.push_back([](Reader& reader, const YAML::Node& map, const std::string& path,
                              const ClusterConfig& cluster) {
        if (cluster.lb.policy == LbPolicy::Maglev && cluster.lb.table_size < cluster.endpoints.size())
            reader.problem(map, Reader::join(path, "lb.table_size"),
                           "maglev needs at least one slot per endpoint (" + std::to_string(cluster.endpoints.size()) +
                               "), got " + std::to_string(cluster.lb.table_size));
    });
    return table;
}

}  // namespace hotgate::schema

#include "observability/metrics.h"

#include <prometheus/text_serializer.h>

namespace hotgate {
namespace {

const char* rejectReasonLabel(RejectReason reason) {
    switch (reason) {
        case RejectReason::BadRequest: return "bad_request";
        case RejectReason::HeaderTimeout: return "header_timeout";
        case RejectReason::BodyTooLarge: return "body_too_large";
        case RejectReason::HeaderTooLarge: return "header_too_large";
        case RejectReason::MaxConnections: return "max_connections";
        case RejectReason::BodyTimeout: return "body_timeout";
        case RejectReason::Unsupported: return "unsupported";
        case RejectReason::kCount: break;
    }
    return "unknown";
}

const char* http2StreamEndLabel(Http2StreamEnd end) {
    switch (end) {
        case Http2StreamEnd::Finished: return "finished";
        case Http2StreamEnd::Drained: return "drained";
        case Http2StreamEnd::ResetByClient: return "reset_by_client";
        case Http2StreamEnd::Refused: return "refused";
        case Http2StreamEnd::Cut: return "cut";
        case Http2StreamEnd::kCount: break;
    }
    return "unknown";
}

const char* http2GoawayLabel(Http2GoawayReason reason) {
    switch (reason) {
        case Http2GoawayReason::Drain: return "drain";
        case Http2GoawayReason::Idle: return "idle";
        case Http2GoawayReason::RapidReset: return "rapid_reset";
        case Http2GoawayReason::ControlFlood: return "control_flood";
        case Http2GoawayReason::HeaderFlood: return "header_flood";
        case Http2GoawayReason::ProtocolError: return "protocol_error";
        case Http2GoawayReason::kCount: break;
    }
    return "unknown";
}

const char* retryOnLabel(RetryOn on) {
    switch (on) {
        case RetryOn::ConnectFailure: return "connect-failure";
        case RetryOn::Refused: return "refused";
        case RetryOn::ResetBeforeResponse: return "reset-before-response";
        case RetryOn::GatewayError: return "gateway-error";
        case RetryOn::kCount: break;
    }
    return "unknown";
}

// Request latency buckets: 100 µs to 10 s, roughly x2.5 apart.
const prometheus::Histogram::BucketBoundaries kLatencyBuckets{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace

Metrics::Metrics(const std::string& version, const Config& config)
    : registry_(std::make_shared<prometheus::Registry>()) {
    const prometheus::Labels base{{"version", version}};
    auto& requests = prometheus::BuildCounter()
                         .Name("hotgate_http_requests_total")
                         .Help("HTTP requests answered, by listener, route and status class")
                         .Labels(base)
                         .Register(*registry_);
    auto& durations = prometheus::BuildHistogram()
                          .Name("hotgate_http_request_duration_seconds")
                          .Help("Time from the request header received to the response fully written")
                          .Labels(base)
                          .Register(*registry_);
    auto& active = prometheus::BuildGauge()
                       .Name("hotgate_active_connections")
                       .Help("Client connections currently open")
                       .Labels(base)
                       .Register(*registry_);
    auto& rejected = prometheus::BuildCounter()
                         .Name("hotgate_rejected_requests_total")
                         .Help("Requests refused by a limit or as malformed, by reason")
                         .Labels(base)
                         .Register(*registry_);
    auto& connect_errors = prometheus::BuildCounter()
                               .Name("hotgate_upstream_connect_errors_total")
                               .Help("Upstream connection attempts that failed (refused, unreachable, reset)")
                               .Labels(base)
                               .Register(*registry_);
    auto& timeouts = prometheus::BuildCounter()
                         .Name("hotgate_upstream_timeouts_total")
                         .Help("Upstream timeouts, by phase (connect, response)")
                         .Labels(base)
                         .Register(*registry_);

    auto& moved = prometheus::BuildCounter()
                      .Name("hotgate_connections_moved_total")
                      .Help("Keep-alive client connections moved between versions at an upgrade, by direction")
                      .Labels(base)
                      .Register(*registry_);

    requests_ = &requests;
    durations_ = &durations;
    connect_errors_ = &connect_errors;
    timeouts_ = &timeouts;
    const auto counter = [&](const char* name, const char* help) {
        return &prometheus::BuildCounter().Name(name).Help(help).Labels(base).Register(*registry_);
    };
    retries_ = counter("hotgate_upstream_retries_total", "Retries of proxied requests, by cluster and condition");
    retries_over_budget_ = counter("hotgate_upstream_retries_over_budget_total",
                                   "Retries not made because the cluster's retry budget was spent");
    hash_key_missing_ = counter("hotgate_upstream_hash_key_missing_total",
                                "Requests to a hashing cluster without its hash key, sent round robin");
    panics_ = counter("hotgate_upstream_panic_total",
                      "Endpoint picks made with every endpoint ejected (ejections ignored)");
    cluster_overflows_ = counter("hotgate_cluster_overflow_total",
                                 "Requests answered 503 because the cluster was at a static limit, by limit");
    grpc_responses_ = counter("hotgate_grpc_responses_total",
                              "gRPC responses by route and grpc-status, hotgate's own refusals included");
    config_applies_ = &prometheus::BuildCounter()
                           .Name("hotgate_config_applies_total")
                           .Help(
                               "Config changes by result: applied, rejected, verified, rolled_back, "
                               "manual_rollback, upgraded, failed")
                           .Labels(base)
                           .Register(*registry_);
    config_info_ = &prometheus::BuildGauge()
                        .Name("hotgate_config_info")
                        .Help("1, labelled with the hash of the config this process serves now")
                        .Labels(base)
                        .Register(*registry_);
    for (const char* result : {"applied", "rejected", "verified", "rolled_back", "manual_rollback"})
        config_applies_->Add({{"result", result}});

    auto& handshakes = prometheus::BuildCounter()
                           .Name("hotgate_tls_handshakes_total")
                           .Help("TLS handshakes on client connections, by result and by full vs resumed session")
                           .Labels(base)
                           .Register(*registry_);
    tls_expiry_ = &prometheus::BuildGauge()
                       .Name("hotgate_tls_certificate_expiry_timestamp_seconds")
                       .Help("When each served certificate expires (Unix time), by listener and SNI name")
                       .Labels(base)
                       .Register(*registry_);

    auto& h2_streams = prometheus::BuildCounter()
                           .Name("hotgate_http2_streams_total")
                           .Help("HTTP/2 streams by how they ended: finished, drained (finished after the "
                                 "connection's drain began), reset_by_client, refused, cut")
                           .Labels(base)
                           .Register(*registry_);
    auto& h2_goaways = prometheus::BuildCounter()
                           .Name("hotgate_http2_goaways_total")
                           .Help("Final GOAWAYs sent to HTTP/2 clients, by reason")
                           .Labels(base)
                           .Register(*registry_);

    for (const auto& listener : config.listeners) {
        ListenerSeries series;
        for (std::size_t e = 0; e < series.h2_streams.size(); ++e)
            series.h2_streams[e] = &h2_streams.Add(
                {{"listener", listener.name}, {"end", http2StreamEndLabel(static_cast<Http2StreamEnd>(e))}});
        for (std::size_t r = 0; r < series.h2_goaways.size(); ++r)
            series.h2_goaways[r] = &h2_goaways.Add(
                {{"listener", listener.name}, {"reason", http2GoawayLabel(static_cast<Http2GoawayReason>(r))}});
        series.active = &active.Add({{"listener", listener.name}});
        series.handed_off = &moved.Add({{"listener", listener.name}, {"direction", "handed_off"}});
        series.adopted = &moved.Add({{"listener", listener.name}, {"direction", "adopted"}});
        if (listener.tls) {
            series.tls_full = &handshakes.Add({{"listener", listener.name}, {"result", "ok"}, {"session", "full"}});
            series.tls_resumed =
                &handshakes.Add({{"listener", listener.name}, {"result", "ok"}, {"session", "resumed"}});
            series.tls_failed = &handshakes.Add({{"listener", listener.name}, {"result", "failed"}, {"session", "none"}});
        }
        for (std::size_t r = 0; r < series.rejected.size(); ++r)
            series.rejected[r] = &rejected.Add(
                {{"listener", listener.name}, {"reason", rejectReasonLabel(static_cast<RejectReason>(r))}});
        listeners_.push_back(series);
    }
    setConfigHash(config.hash);
}

std::shared_ptr<const Metrics::SnapshotSeries> Metrics::seriesFor(const Config& config) {
    static const std::array<std::string, 5> kClasses{"1xx", "2xx", "3xx", "4xx", "5xx"};
    std::lock_guard lock(config_mutex_);
    auto out = std::make_shared<SnapshotSeries>();
    std::vector<std::string> route_names;
    for (const auto& route : config.routes) route_names.push_back(route.name);
    route_names.push_back("none");
    for (const auto& listener : config.listeners) {
        std::vector<RouteSeries> routes;
        for (const auto& route : route_names) {
            RouteSeries rs;
            for (std::size_t c = 0; c < kClasses.size(); ++c)
                rs.by_status_class[c] =
                    &requests_->Add({{"listener", listener.name}, {"route", route}, {"status_class", kClasses[c]}});
            rs.duration = &durations_->Add({{"listener", listener.name}, {"route", route}}, kLatencyBuckets);
            rs.grpc = std::make_shared<GrpcSeries>();
            rs.grpc->listener = listener.name;
            rs.grpc->route = route;
            routes.push_back(rs);
        }
        out->routes.push_back(std::move(routes));
    }
    for (const auto& cluster : config.clusters) {
        ClusterSeries cs;
        cs.connect_errors = &connect_errors_->Add({{"cluster", cluster.name}});
        cs.connect_timeouts = &timeouts_->Add({{"cluster", cluster.name}, {"phase", "connect"}});
        cs.response_timeouts = &timeouts_->Add({{"cluster", cluster.name}, {"phase", "response"}});
        for (std::size_t on = 0; on < cs.retries.size(); ++on)
            cs.retries[on] = &retries_->Add({{"cluster", cluster.name}, {"reason", retryOnLabel(static_cast<RetryOn>(on))}});
        cs.retries_over_budget = &retries_over_budget_->Add({{"cluster", cluster.name}});
        cs.hash_key_missing = &hash_key_missing_->Add({{"cluster", cluster.name}});
        cs.panics = &panics_->Add({{"cluster", cluster.name}});
        for (std::size_t limit = 0; limit < cs.overflows.size(); ++limit)
            cs.overflows[limit] = &cluster_overflows_->Add(
                {{"cluster", cluster.name}, {"limit", std::string(clusterLimitName(static_cast<ClusterLimit>(limit)))}});
        out->clusters.push_back(cs);
    }
    return out;
}

void Metrics::recordGrpcStatus(const SnapshotSeries& series, std::size_t listener, std::size_t route,
                               std::uint32_t code) {
    GrpcSeries& grpc = *series.routes[listener][route].grpc;
    if (code >= grpc.by_code.size()) return;
    prometheus::Counter* counter = grpc.by_code[code].load(std::memory_order_acquire);
    if (!counter) {
        // The first response with this status on this route: Add() returns the series when
        // another worker made it meanwhile.
        counter = &grpc_responses_->Add(
            {{"listener", grpc.listener}, {"route", grpc.route}, {"grpc_status", std::to_string(code)}});
        grpc.by_code[code].store(counter, std::memory_order_release);
    }
    counter->Increment();
}

void Metrics::recordRequest(const SnapshotSeries& series, std::size_t listener, std::optional<std::size_t> route,
                            unsigned status, double seconds) {
    const auto& routes = series.routes[listener];
    auto& rs = routes[route.value_or(routes.size() - 1)];
    const std::size_t status_class = std::min<std::size_t>(4, status >= 100 ? status / 100 - 1 : 4);
    rs.by_status_class[status_class]->Increment();
    rs.duration->Observe(seconds);
    // Shared with the other versions: relaxed atomic adds, no syscall.
    if (shared_.requests) std::atomic_ref(*shared_.requests).fetch_add(1, std::memory_order_relaxed);
    if (shared_.responses_5xx && status >= 500) std::atomic_ref(*shared_.responses_5xx).fetch_add(1, std::memory_order_relaxed);
}

void Metrics::recordRejected(std::size_t listener, RejectReason reason) {
    listeners_[listener].rejected[static_cast<std::size_t>(reason)]->Increment();
    if (shared_.rejected) std::atomic_ref(*shared_.rejected).fetch_add(1, std::memory_order_relaxed);
}

void Metrics::recordUpstreamTimeout(const ClusterSeries& cluster, UpstreamPhase phase) {
    (phase == UpstreamPhase::Connect ? cluster.connect_timeouts : cluster.response_timeouts)->Increment();
}

void Metrics::recordConfigApply(const std::string& result) {
    config_applies_->Add({{"result", result}}).Increment();
}

void Metrics::setConfigHash(const std::string& hash) {
    std::lock_guard lock(config_mutex_);
    if (config_info_series_) config_info_->Remove(config_info_series_);
    config_info_series_ = &config_info_->Add({{"hash", hash}});
    config_info_series_->Set(1);
}

void Metrics::recordTlsHandshake(std::size_t listener, bool ok, bool resumed) {
    auto& series = listeners_[listener];
    prometheus::Counter* counter = !ok ? series.tls_failed : resumed ? series.tls_resumed : series.tls_full;
    if (counter) counter->Increment();
}

void Metrics::setCertificateExpiry(const std::string& listener, const std::string& name, double unix_seconds) {
    tls_expiry_->Add({{"listener", listener}, {"name", name}}).Set(unix_seconds);
}

std::string Metrics::serialize() const {
    auto families = registry_->Collect();
    for (const auto& collector : collectors_)
        for (auto& family : collector()) families.push_back(std::move(family));
    return prometheus::TextSerializer().Serialize(families);
}

std::string Metrics::serializeHttp() const {
    auto families = registry_->Collect();
    std::erase_if(families, [](const prometheus::MetricFamily& family) {
        return family.name.rfind("hotgate_http_", 0) != 0;
    });
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace hotgate

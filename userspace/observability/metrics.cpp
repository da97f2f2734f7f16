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
        case RejectReason::kCount: break;
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

    static const std::array<std::string, 5> kClasses{"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (const auto& listener : config.listeners) {
        ListenerSeries series;
        std::vector<std::string> route_names;
        for (const auto& route : config.routes) route_names.push_back(route.name);
        route_names.push_back("none");
        for (const auto& route : route_names) {
            RouteSeries rs;
            for (std::size_t c = 0; c < kClasses.size(); ++c)
                rs.by_status_class[c] =
                    &requests.Add({{"listener", listener.name}, {"route", route}, {"status_class", kClasses[c]}});
            rs.duration = &durations.Add({{"listener", listener.name}, {"route", route}}, kLatencyBuckets);
            series.routes.push_back(rs);
        }
        series.active = &active.Add({{"listener", listener.name}});
        series.handed_off = &moved.Add({{"listener", listener.name}, {"direction", "handed_off"}});
        series.adopted = &moved.Add({{"listener", listener.name}, {"direction", "adopted"}});
        for (std::size_t r = 0; r < series.rejected.size(); ++r)
            series.rejected[r] = &rejected.Add(
                {{"listener", listener.name}, {"reason", rejectReasonLabel(static_cast<RejectReason>(r))}});
        listeners_.push_back(std::move(series));
    }
    for (const auto& cluster : config.clusters) {
        ClusterSeries cs;
        cs.connect_errors = &connect_errors.Add({{"cluster", cluster.name}});
        cs.connect_timeouts = &timeouts.Add({{"cluster", cluster.name}, {"phase", "connect"}});
        cs.response_timeouts = &timeouts.Add({{"cluster", cluster.name}, {"phase", "response"}});
        clusters_.push_back(cs);
    }
}

void Metrics::recordRequest(std::size_t listener, std::optional<std::size_t> route, unsigned status, double seconds) {
    auto& series = listeners_[listener];
    auto& rs = series.routes[route.value_or(series.routes.size() - 1)];
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

void Metrics::recordUpstreamConnectError(std::size_t cluster) { clusters_[cluster].connect_errors->Increment(); }

void Metrics::recordUpstreamTimeout(std::size_t cluster, UpstreamPhase phase) {
    (phase == UpstreamPhase::Connect ? clusters_[cluster].connect_timeouts : clusters_[cluster].response_timeouts)
        ->Increment();
}

std::string Metrics::serialize() const {
    auto families = registry_->Collect();
    for (const auto& collector : collectors_)
        for (auto& family : collector()) families.push_back(std::move(family));
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace hotgate

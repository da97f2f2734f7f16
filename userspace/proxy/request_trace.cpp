#include "proxy/request_trace.h"

#include <cstring>
#include <string>

namespace hotgate {
namespace {

// OpenTelemetry's TraceIdRatioBased rule: the trace id's last 7 bytes as a number below 2^56,
// compared with ratio x 2^56.
bool inRatio(const telemetry::TraceId& id, double ratio) {
    if (ratio >= 1) return true;
    std::uint64_t low = 0;
    for (std::size_t i = 9; i < id.size(); ++i) low = (low << 8) | id[i];
    return static_cast<double>(low) < ratio * static_cast<double>(std::uint64_t{1} << 56);
}

}  // namespace

void decideRequestTrace(RequestTrace& trace, std::size_t fields, std::string_view first) {
    const bool tracing = trace.sample_ratio > 0;
    if (fields == 1) {
        if (auto client = telemetry::parseTraceparent(first)) {
            trace.client_span = client->parent_id;
            trace.record = tracing && client->sampled;
            trace.keep_client_field = !trace.record;  // a hop without a span passes it on unchanged
            trace.upstream = *client;
            if (trace.record) trace.upstream.parent_id = telemetry::randomSpanId();
            return;
        }
    }
    // None, several or an invalid one: this hop starts the trace.
    trace.upstream.trace_id = telemetry::randomTraceId();
    trace.upstream.parent_id = telemetry::randomSpanId();
    trace.record = tracing && inRatio(trace.upstream.trace_id, trace.sample_ratio);
    trace.upstream.sampled = trace.record;
}

std::array<char, 55> traceparentValue(const telemetry::TraceContext& context) {
    // Two hex digits per byte from one table: this runs for every proxied request.
    static constexpr auto kPairs = [] {
        std::array<char, 512> pairs{};
        constexpr char kHex[] = "0123456789abcdef";
        for (int byte = 0; byte < 256; ++byte) {
            pairs[2 * byte] = kHex[byte >> 4];
            pairs[2 * byte + 1] = kHex[byte & 15];
        }
        return pairs;
    }();
    std::array<char, 55> out{};
    std::size_t at = 0;
    auto put = [&](auto bytes) {
        for (const std::uint8_t byte : bytes) {
            std::memcpy(&out[at], &kPairs[2 * byte], 2);
            at += 2;
        }
    };
    out[at++] = '0';
    out[at++] = '0';
    out[at++] = '-';
    put(context.trace_id);
    out[at++] = '-';
    put(context.parent_id);
    out[at++] = '-';
    out[at++] = '0';
    out[at++] = context.sampled ? '1' : '0';
    return out;
}

void submitRequestSpan(telemetry::SpanSink& sink, const RequestTrace& trace, const RequestSpanFacts& facts) {
    telemetry::Span span;
    span.trace_id = trace.upstream.trace_id;
    span.span_id = trace.upstream.parent_id;
    span.parent_span_id = trace.client_span;
    // No route template is known: the semantic conventions then name the span by the method.
    span.name = std::string(facts.method);
    span.kind = telemetry::SpanKind::Server;
    span.start_unix_nanos = facts.start_unix_nanos;
    span.end_unix_nanos = telemetry::unixNanosNow();
    const auto query = facts.target.find('?');
    span.setAttribute("http.request.method", facts.method);
    span.setAttribute("url.path", facts.target.substr(0, query));
    if (query != std::string_view::npos) span.setAttribute("url.query", facts.target.substr(query + 1));
    span.setAttribute("url.scheme", facts.scheme);
    if (facts.status) span.setAttribute("http.response.status_code", static_cast<std::int64_t>(facts.status));
    span.setAttribute("client.address", facts.client_ip);
    span.setAttribute("hotgate.route", facts.route);
    span.setAttribute("hotgate.cluster", facts.cluster);
    span.setAttribute("hotgate.version", facts.version);
    // Server spans: 5xx is an error of this hop, 4xx is the client's (semantic conventions).
    if (facts.status >= 500) span.status = {telemetry::StatusCode::Error, std::to_string(facts.status)};
    if (!facts.status) span.status = {telemetry::StatusCode::Error, "no response: the client left or its body broke"};
    (void)sink.submit(std::move(span));
}

}  // namespace hotgate

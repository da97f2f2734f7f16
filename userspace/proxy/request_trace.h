// The W3C trace context of one proxied request (docs/telemetry.md "Request traces"), when
// tracing is configured (telemetry.otlp.endpoint); otherwise traceparent is an end-to-end field
// like any other and costs nothing. The client's traceparent is continued when it sent exactly
// one valid field; otherwise this hop starts a trace. With telemetry.sample_ratio > 0 the hop records a Server span: always under a
// sampled parent, never under an unsampled one, and for a trace it starts when the trace id
// falls in the ratio (the id's low 56 bits, as OpenTelemetry's TraceIdRatioBased sampler does,
// so every hop using that rule agrees).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "telemetry/span.h"
#include "telemetry/span_sink.h"
#include "telemetry/traceparent.h"

namespace hotgate {

struct RequestTrace {
    bool enabled = false;     // in: tracing is configured; false: nothing below is decided
    double sample_ratio = 0;  // in: telemetry.sample_ratio

    // out, once decided: the upstream's traceparent (its parent id is this hop's span when it
    // records one), the client's span (when it sent a valid traceparent), whether this hop
    // records a span, and whether the client's field goes upstream as it came.
    telemetry::TraceContext upstream;
    std::optional<telemetry::SpanId> client_span;
    bool record = false;
    bool keep_client_field = false;
};

// Decides `trace` from the client's traceparent fields: `fields` of them, the first `first`.
void decideRequestTrace(RequestTrace& trace, std::size_t fields, std::string_view first);

// The traceparent value of `context`, version 00: 55 characters.
std::array<char, 55> traceparentValue(const telemetry::TraceContext& context);

// What one recorded request span says about its request (OpenTelemetry HTTP semantic conventions).
struct RequestSpanFacts {
    std::string_view method;
    std::string_view target;  // path and query
    std::string_view scheme;  // http | https
    std::string_view route;
    std::string_view cluster;
    std::string_view client_ip;
    std::string_view version;  // x-hotgate-version
    unsigned status = 0;       // the status the client got; 0: none (it left, or its body broke)
    std::uint64_t start_unix_nanos = 0;
};

// Submits the Server span of a request `trace` records to `sink`, ending now.
void submitRequestSpan(telemetry::SpanSink& sink, const RequestTrace& trace, const RequestSpanFacts& facts);

}  // namespace hotgate

// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header that
// carries a trace across processes, e.g. from an upgrade's predecessor to its successor.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "telemetry/span.h"

namespace hotgate::telemetry {

// The fields of a traceparent header that hotgate uses.
struct TraceContext {
    TraceId trace_id{};
    SpanId parent_id{};    // the caller's span: a span continuing the trace takes it as its parent
    bool sampled = false;  // trace-flags bit 0
};

// Parses a traceparent value. Version 00 must be exactly
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"; a later version may append
// "-<more>" after the flags and is read as version 00 (the spec's forward compatibility).
// Fails, saying why, on: a length or separator other than that, an uppercase or non-hex
// character, version ff, an all-zero trace id or parent id. Leading or trailing whitespace is
// not trimmed here (the HTTP layer does that).
Result<TraceContext> parseTraceparent(std::string_view value);

// Formats a version-00 traceparent: lowercase hex, flags "01" when sampled, "00" otherwise.
// The ids must be valid (not all-zero); that is the caller's contract.
std::string formatTraceparent(const TraceContext& context);

}  // namespace hotgate::telemetry

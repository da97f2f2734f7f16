// SpanSink: where finished spans go. OtlpExporter is the real one; tests and callers that
// trace nothing can pass their own.
#pragma once

#include "telemetry/span.h"

namespace hotgate::telemetry {

class SpanSink {
public:
    virtual ~SpanSink() = default;
    // Takes a finished span. Must not block: it is called on request-path threads. Returns
    // false when the span was dropped (the sink counts why).
    virtual bool submit(Span span) = 0;
};

}  // namespace hotgate::telemetry

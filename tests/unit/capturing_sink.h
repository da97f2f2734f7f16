// CapturingSink: a SpanSink that keeps every span submitted to it, in order, for unit tests
// of what gets recorded.
#pragma once

#include <vector>

#include "telemetry/span_sink.h"

namespace hotgate::telemetry {

class CapturingSink : public SpanSink {
public:
    bool submit(Span span) override {
        spans.push_back(std::move(span));
        return true;
    }
    std::vector<Span> spans;
};

}  // namespace hotgate::telemetry

// Tracer and ActiveSpan: the convenient way to record spans. A Tracer starts root spans,
// spans continuing a remote trace (a traceparent) and child spans; an ActiveSpan collects
// attributes and a status and is submitted to the tracer's sink when it ends, explicitly or
// when destroyed.
//
//   telemetry::Tracer tracer(exporter.get());
//   auto upgrade = tracer.startRootSpan("upgrade");
//   {
//       auto launch = tracer.startChildSpan(upgrade, "launch successor");
//       launch.setAttribute("successor.pid", pid);
//   }                                                   // launch ends here
//   upgrade.setStatus(telemetry::StatusCode::Error, "successor died");
//   upgrade.end();
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "telemetry/span.h"
#include "telemetry/span_sink.h"
#include "telemetry/traceparent.h"

namespace hotgate::telemetry {

class ActiveSpan {
public:
    ActiveSpan(ActiveSpan&& other) noexcept;
    ActiveSpan& operator=(ActiveSpan&& other) noexcept;  // ends this span first
    ActiveSpan(const ActiveSpan&) = delete;
    ActiveSpan& operator=(const ActiveSpan&) = delete;
    ~ActiveSpan() { end(); }

    // Adds or replaces an attribute (the overloads of Span::setAttribute). Ignored once ended.
    template <typename Value>
    void setAttribute(std::string_view key, Value&& value) {
        if (!ended_) span_.setAttribute(key, std::forward<Value>(value));
    }
    // Ignored once ended. The message is kept with Error only, as OTLP wants.
    void setStatus(StatusCode code, std::string_view message = {});

    // Stamps the end time and submits the span (when sampled and the tracer has a sink). Only
    // the first call counts.
    void end();
    // For work timed elsewhere (gwctl's stages): the span started, or ends, at that time
    // rather than now. Ignored once ended; an end before the start is taken as the start.
    void setStartTime(std::uint64_t unix_nanos);
    void endAt(std::uint64_t unix_nanos);
    bool ended() const { return ended_; }

    // This span as the parent of work elsewhere: pass formatTraceparent(context()) on.
    TraceContext context() const { return TraceContext{span_.trace_id, span_.span_id, sampled_}; }
    std::string traceparent() const { return formatTraceparent(context()); }
    // The span as recorded so far. After end() only the ids and times are left: the rest was
    // moved to the sink.
    const Span& span() const { return span_; }

private:
    friend class Tracer;
    ActiveSpan(SpanSink* sink, Span span, bool sampled) : sink_(sink), span_(std::move(span)), sampled_(sampled) {}

    SpanSink* sink_;  // nullptr: recorded, never submitted
    Span span_;
    bool sampled_;
    bool ended_ = false;
};

class Tracer {
public:
    // `sink` must outlive every span this tracer starts; nullptr turns tracing off (spans are
    // still built, so callers need no branches, but go nowhere).
    explicit Tracer(SpanSink* sink) : sink_(sink) {}

    // A new trace: random trace id, no parent, sampled.
    ActiveSpan startRootSpan(std::string_view name, SpanKind kind = SpanKind::Internal) const;
    // Continues a trace from another process: the remote span becomes the parent, and its
    // sampled flag decides whether this span is submitted.
    ActiveSpan startSpan(std::string_view name, const TraceContext& remote_parent,
                         SpanKind kind = SpanKind::Internal) const;
    // A child of `parent` (which may have ended) in the same trace.
    ActiveSpan startChildSpan(const ActiveSpan& parent, std::string_view name,
                              SpanKind kind = SpanKind::Internal) const;

private:
    SpanSink* sink_;
};

}  // namespace hotgate::telemetry

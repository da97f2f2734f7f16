#include "telemetry/tracer.h"

#include <algorithm>

namespace hotgate::telemetry {
namespace {

Span newSpan(std::string_view name, SpanKind kind, const TraceId& trace_id, std::optional<SpanId> parent) {
    Span span;
    span.trace_id = trace_id;
    span.span_id = randomSpanId();
    span.parent_span_id = parent;
    span.name = std::string(name);
    span.kind = kind;
    span.start_unix_nanos = unixNanosNow();
    return span;
}

}  // namespace

ActiveSpan::ActiveSpan(ActiveSpan&& other) noexcept
    : sink_(other.sink_), span_(std::move(other.span_)), sampled_(other.sampled_), ended_(other.ended_) {
    other.ended_ = true;  // the moved-from span must not submit on destruction
}

ActiveSpan& ActiveSpan::operator=(ActiveSpan&& other) noexcept {
    if (this == &other) return *this;
    end();
    sink_ = other.sink_;
    span_ = std::move(other.span_);
    sampled_ = other.sampled_;
    ended_ = other.ended_;
    other.ended_ = true;
    return *this;
}

void ActiveSpan::setStatus(StatusCode code, std::string_view message) {
    if (ended_) return;
    span_.status.code = code;
    span_.status.message = code == StatusCode::Error ? std::string(message) : std::string();
}

void ActiveSpan::end() {
    endAt(unixNanosNow());
}

void ActiveSpan::setStartTime(std::uint64_t unix_nanos) {
    if (!ended_) span_.start_unix_nanos = unix_nanos;
}

void ActiveSpan::endAt(std::uint64_t unix_nanos) {
    if (ended_) return;
    ended_ = true;
    // The wall clock may step back between start and end; a span never ends before it starts.
    span_.end_unix_nanos = std::max(unix_nanos, span_.start_unix_nanos);
    if (sink_ != nullptr && sampled_) sink_->submit(std::move(span_));
}

ActiveSpan Tracer::startRootSpan(std::string_view name, SpanKind kind) const {
    return ActiveSpan(sink_, newSpan(name, kind, randomTraceId(), std::nullopt), true);
}

ActiveSpan Tracer::startSpan(std::string_view name, const TraceContext& remote_parent, SpanKind kind) const {
    return ActiveSpan(sink_, newSpan(name, kind, remote_parent.trace_id, remote_parent.parent_id),
                      remote_parent.sampled);
}

ActiveSpan Tracer::startChildSpan(const ActiveSpan& parent, std::string_view name, SpanKind kind) const {
    return ActiveSpan(sink_, newSpan(name, kind, parent.span_.trace_id, parent.span_.span_id), parent.sampled_);
}

}  // namespace hotgate::telemetry

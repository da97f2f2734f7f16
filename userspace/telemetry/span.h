// Span: one timed operation of a trace, as hotgate records it and the OTLP encoder sends it,
// with its ids (a 16-byte trace id, an 8-byte span id) and the random generator for them.
// Plain data: a span is filled on one thread and then handed whole to a SpanSink.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hotgate::telemetry {

// A trace id; all-zero is invalid (W3C Trace Context, OTLP).
using TraceId = std::array<std::uint8_t, 16>;
// A span id; all-zero is invalid.
using SpanId = std::array<std::uint8_t, 8>;

// A fresh random trace id, never all-zero. Thread-safe (one generator per thread).
TraceId randomTraceId();
// A fresh random span id, never all-zero. Thread-safe.
SpanId randomSpanId();

bool isValid(const TraceId& id);  // false when all-zero
bool isValid(const SpanId& id);   // false when all-zero

// Lowercase hex: 32 characters for a trace id, 16 for a span id.
std::string toHex(const TraceId& id);
std::string toHex(const SpanId& id);
// Parses exactly 32 (trace) or 16 (span) lowercase hex characters; nullopt otherwise. An
// all-zero id parses (callers decide whether it is acceptable).
std::optional<TraceId> traceIdFromHex(std::string_view hex);
std::optional<SpanId> spanIdFromHex(std::string_view hex);

// The role of a span, as OTLP's SpanKind numbers it.
enum class SpanKind : int {
    Internal = 1,  // work inside hotgate (an upgrade phase)
    Server = 2,    // hotgate serving a request
    Client = 3,    // hotgate calling out (an upstream, a successor)
};

// OTLP's Status.StatusCode, with the same numbers.
enum class StatusCode : int {
    Unset = 0,
    Ok = 1,
    Error = 2,
};

struct SpanStatus {
    StatusCode code = StatusCode::Unset;
    std::string message;  // meaningful with Error only
};

// An attribute value: OTLP's AnyValue restricted to the scalar types hotgate uses.
using AttributeValue = std::variant<std::string, std::int64_t, bool, double>;

struct Attribute {
    std::string key;
    AttributeValue value;
};

struct Span {
    TraceId trace_id{};
    SpanId span_id{};
    std::optional<SpanId> parent_span_id;  // nullopt for a root span
    std::string name;
    SpanKind kind = SpanKind::Internal;
    std::uint64_t start_unix_nanos = 0;
    std::uint64_t end_unix_nanos = 0;  // >= start_unix_nanos once ended
    std::vector<Attribute> attributes;
    SpanStatus status;

    // Adds an attribute, or replaces the value of one with the same key. Overloads rather than
    // an AttributeValue parameter, so that a string literal never becomes a bool and an int
    // never becomes ambiguous.
    void setAttribute(std::string_view key, std::string_view value);
    void setAttribute(std::string_view key, const char* value) { setAttribute(key, std::string_view(value)); }
    void setAttribute(std::string_view key, std::int64_t value);
    void setAttribute(std::string_view key, int value) { setAttribute(key, static_cast<std::int64_t>(value)); }
    void setAttribute(std::string_view key, std::uint32_t value) {
        setAttribute(key, static_cast<std::int64_t>(value));
    }
    void setAttribute(std::string_view key, std::uint64_t value);  // saturates at INT64_MAX (OTLP ints are signed)
    void setAttribute(std::string_view key, bool value);
    void setAttribute(std::string_view key, double value);

    // The value of attribute `key`, or nullptr.
    const AttributeValue* attribute(std::string_view key) const;
};

// The current wall-clock time in unix nanoseconds (what span times are measured in).
std::uint64_t unixNanosNow();

}  // namespace hotgate::telemetry

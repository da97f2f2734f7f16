// The OTLP/HTTP JSON encoding of an ExportTraceServiceRequest
// (opentelemetry-proto, collector/trace/v1, with the OTLP JSON mapping): one resource, one
// instrumentation scope ("hotgate"), the given spans.
//
// The mapping's deviations from plain proto3 JSON are followed: trace and span ids are
// lowercase hex strings (not base64), enums are integers, field names are lowerCamelCase.
// 64-bit integers (times, intValue) are decimal strings, as proto3 JSON writes them.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <vector>

#include "telemetry/span.h"

namespace hotgate::telemetry {

// What the spans are about: the service, sent as resource attributes.
struct ResourceInfo {
    std::string service_name;           // resource attribute service.name
    std::string service_version;        // service.version, left out when empty
    std::vector<Attribute> attributes;  // more resource attributes, after those two
    std::string scope_version;          // scope.version, left out when empty
};

// The request as a JSON document:
//   {"resourceSpans":[{"resource":{"attributes":[...]},
//                      "scopeSpans":[{"scope":{"name":"hotgate","version":...},"spans":[...]}]}]}
// Each span: traceId, spanId, parentSpanId (root spans leave it out), name, kind (1 internal,
// 2 server, 3 client), startTimeUnixNano, endTimeUnixNano, attributes (each
// {"key":..,"value":{"stringValue"|"intValue"|"boolValue"|"doubleValue":..}}), status {code,
// message when not empty}. A non-finite double is written as "NaN", "Infinity" or
// "-Infinity", as proto3 JSON does (JSON numbers cannot carry them).
nlohmann::json otlpTraceRequest(const ResourceInfo& resource, std::span<const Span> spans);

// otlpTraceRequest serialized compactly: the body of a POST to /v1/traces.
std::string encodeOtlpTraceRequest(const ResourceInfo& resource, std::span<const Span> spans);

}  // namespace hotgate::telemetry

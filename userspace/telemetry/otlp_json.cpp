#include "telemetry/otlp_json.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace hotgate::telemetry {
namespace {

using nlohmann::json;

constexpr const char* kScopeName = "hotgate";

json doubleValue(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
    return value;
}

// OTLP's AnyValue with exactly one of its scalar fields.
json anyValue(const AttributeValue& value) {
    struct Visitor {
        json operator()(const std::string& text) const { return {{"stringValue", text}}; }
        json operator()(std::int64_t number) const { return {{"intValue", std::to_string(number)}}; }
        json operator()(bool flag) const { return {{"boolValue", flag}}; }
        json operator()(double number) const { return {{"doubleValue", doubleValue(number)}}; }
    };
    return std::visit(Visitor{}, value);
}

json keyValue(const std::string& key, const AttributeValue& value) {
    return {{"key", key}, {"value", anyValue(value)}};
}

json attributeList(const std::vector<Attribute>& attributes) {
    json list = json::array();
    for (const auto& attribute : attributes) list.push_back(keyValue(attribute.key, attribute.value));
    return list;
}

json spanJson(const Span& span) {
    json out = {
        {"traceId", toHex(span.trace_id)},
        {"spanId", toHex(span.span_id)},
    };
    if (span.parent_span_id) out["parentSpanId"] = toHex(*span.parent_span_id);
    out["name"] = span.name;
    out["kind"] = static_cast<int>(span.kind);
    out["startTimeUnixNano"] = std::to_string(span.start_unix_nanos);
    out["endTimeUnixNano"] = std::to_string(span.end_unix_nanos);
    out["attributes"] = attributeList(span.attributes);
    json status = {{"code", static_cast<int>(span.status.code)}};
    if (!span.status.message.empty()) status["message"] = span.status.message;
    out["status"] = std::move(status);
    return out;
}

}  // namespace

json otlpTraceRequest(const ResourceInfo& resource, std::span<const Span> spans) {
    json resource_attributes = json::array();
    resource_attributes.push_back(keyValue("service.name", resource.service_name));
    if (!resource.service_version.empty())
        resource_attributes.push_back(keyValue("service.version", resource.service_version));
    for (const auto& attribute : resource.attributes)
        resource_attributes.push_back(keyValue(attribute.key, attribute.value));

    json scope = {{"name", kScopeName}};
    if (!resource.scope_version.empty()) scope["version"] = resource.scope_version;

    json span_list = json::array();
    for (const auto& span : spans) span_list.push_back(spanJson(span));

    json scope_spans = {{"scope", std::move(scope)}, {"spans", std::move(span_list)}};
    json resource_spans = {
        {"resource", {{"attributes", std::move(resource_attributes)}}},
        {"scopeSpans", json::array({std::move(scope_spans)})},
    };
    return {{"resourceSpans", json::array({std::move(resource_spans)})}};
}

std::string encodeOtlpTraceRequest(const ResourceInfo& resource, std::span<const Span> spans) {
    // Invalid UTF-8 in a name or attribute becomes U+FFFD instead of throwing: a span must
    // never take the exporter down.
    return otlpTraceRequest(resource, spans).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace hotgate::telemetry

#include "support/otlp_schema.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <set>

namespace hotgate::test {
namespace {

using nlohmann::json;

// A violation at a JSON path; thrown inside the checker only, returned as an Error.
struct Violation {
    std::string message;
};

[[noreturn]] void violate(const std::string& path, const std::string& what) {
    throw Violation{path + ": " + what};
}

const char* typeName(const json& value) {
    return value.type_name();
}

const json& required(const json& object, const std::string& path, const char* key) {
    const auto it = object.find(key);
    if (it == object.end()) violate(path, std::string("required field '") + key + "' is missing");
    return *it;
}

void expectType(const json& value, const std::string& path, json::value_t type, const char* expected) {
    const bool matches = type == json::value_t::number_integer
                             ? value.is_number_integer()
                             : (type == json::value_t::number_float ? value.is_number() : value.type() == type);
    if (!matches) violate(path, std::string(expected) + " expected, got " + typeName(value));
}

void expectObject(const json& value, const std::string& path) {
    expectType(value, path, json::value_t::object, "object");
}
void expectArray(const json& value, const std::string& path) {
    expectType(value, path, json::value_t::array, "array");
}
const std::string& expectString(const json& value, const std::string& path) {
    expectType(value, path, json::value_t::string, "string");
    return value.get_ref<const std::string&>();
}

void onlyKnownFields(const json& object, const std::string& path, std::initializer_list<const char*> known) {
    for (const auto& [key, value] : object.items()) {
        if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; }))
            violate(path, "unknown field '" + key + "' (OTLP JSON field names are lowerCamelCase)");
    }
}

void expectHexId(const std::string& hex, const std::string& path, std::size_t digits) {
    if (hex.size() != digits)
        violate(path, std::to_string(hex.size()) + " characters, " + std::to_string(digits) +
                          " lowercase hex expected (OTLP JSON ids are hex, not base64)");
    if (!std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
        violate(path, "'" + hex + "' is not lowercase hex");
    if (std::all_of(hex.begin(), hex.end(), [](char c) { return c == '0'; })) violate(path, "all-zero id");
}

std::uint64_t expectDecimalString(const json& value, const std::string& path) {
    const std::string& text = expectString(value, path);
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        violate(path, "'" + text + "' is not an unsigned decimal string");
    return number;
}

int expectIntInRange(const json& value, const std::string& path, int low, int high) {
    expectType(value, path, json::value_t::number_integer, "integer");
    const auto number = value.get<std::int64_t>();
    if (number < low || number > high)
        violate(path, std::to_string(number) + " is out of range " + std::to_string(low) + ".." + std::to_string(high));
    return static_cast<int>(number);
}

// AnyValue with exactly one scalar field (the ones hotgate sends).
void checkAnyValue(const json& value, const std::string& path) {
    expectObject(value, path);
    if (value.size() != 1)
        violate(path, "exactly one of stringValue, intValue, boolValue, doubleValue expected, got " +
                          std::to_string(value.size()) + " fields");
    const std::string type = value.begin().key();
    const json& field = value.begin().value();
    const std::string field_path = path + "." + type;
    if (type == "stringValue") {
        expectString(field, field_path);
    } else if (type == "intValue") {
        const std::string& text = expectString(field, field_path);
        std::int64_t number = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size())
            violate(field_path, "'" + text + "' is not a decimal int64 string");
    } else if (type == "boolValue") {
        expectType(field, field_path, json::value_t::boolean, "boolean");
    } else if (type == "doubleValue") {
        if (field.is_string()) {
            const auto& text = field.get_ref<const std::string&>();
            if (text != "NaN" && text != "Infinity" && text != "-Infinity")
                violate(field_path, "'" + text + "' is neither a number nor NaN/Infinity/-Infinity");
        } else {
            expectType(field, field_path, json::value_t::number_float, "number");
        }
    } else {
        violate(path, "unexpected value field '" + type + "'");
    }
}

// KeyValue list -> key -> typed value; duplicate keys are a violation.
std::map<std::string, json> checkAttributes(const json& list, const std::string& path) {
    expectArray(list, path);
    std::map<std::string, json> out;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string item_path = path + "[" + std::to_string(i) + "]";
        const json& item = list[i];
        expectObject(item, item_path);
        onlyKnownFields(item, item_path, {"key", "value"});
        const std::string& key = expectString(required(item, item_path, "key"), item_path + ".key");
        if (key.empty()) violate(item_path + ".key", "empty key");
        const json& value = required(item, item_path, "value");
        checkAnyValue(value, item_path + ".value");
        if (!out.emplace(key, value).second) violate(item_path, "duplicate key '" + key + "'");
    }
    return out;
}

ReceivedSpan checkSpan(const json& span, const std::string& path) {
    expectObject(span, path);
    onlyKnownFields(span, path,
                    {"traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind", "startTimeUnixNano",
                     "endTimeUnixNano", "attributes", "droppedAttributesCount", "events", "droppedEventsCount", "links",
                     "droppedLinksCount", "status"});
    ReceivedSpan out;
    out.trace_id = expectString(required(span, path, "traceId"), path + ".traceId");
    expectHexId(out.trace_id, path + ".traceId", 32);
    out.span_id = expectString(required(span, path, "spanId"), path + ".spanId");
    expectHexId(out.span_id, path + ".spanId", 16);
    if (const auto it = span.find("parentSpanId"); it != span.end()) {
        out.parent_span_id = expectString(*it, path + ".parentSpanId");
        if (!out.parent_span_id.empty()) expectHexId(out.parent_span_id, path + ".parentSpanId", 16);
    }
    out.name = expectString(required(span, path, "name"), path + ".name");
    if (out.name.empty()) violate(path + ".name", "empty span name");
    out.kind = expectIntInRange(required(span, path, "kind"), path + ".kind", 0, 5);
    out.start_unix_nanos = expectDecimalString(required(span, path, "startTimeUnixNano"), path + ".startTimeUnixNano");
    out.end_unix_nanos = expectDecimalString(required(span, path, "endTimeUnixNano"), path + ".endTimeUnixNano");
    if (out.end_unix_nanos < out.start_unix_nanos)
        violate(path + ".endTimeUnixNano", "ends before it starts (" + std::to_string(out.end_unix_nanos) + " < " +
                                               std::to_string(out.start_unix_nanos) + ")");
    if (const auto it = span.find("attributes"); it != span.end())
        out.attributes = checkAttributes(*it, path + ".attributes");
    if (const auto it = span.find("status"); it != span.end()) {
        const std::string status_path = path + ".status";
        expectObject(*it, status_path);
        onlyKnownFields(*it, status_path, {"code", "message"});
        if (const auto code = it->find("code"); code != it->end())
            out.status_code = expectIntInRange(*code, status_path + ".code", 0, 2);
        if (const auto message = it->find("message"); message != it->end())
            out.status_message = expectString(*message, status_path + ".message");
    }
    return out;
}

std::vector<ReceivedSpan> checkRequest(const json& request) {
    expectObject(request, "$");
    onlyKnownFields(request, "$", {"resourceSpans"});
    const json& resource_spans = required(request, "$", "resourceSpans");
    expectArray(resource_spans, "resourceSpans");
    std::vector<ReceivedSpan> spans;
    for (std::size_t r = 0; r < resource_spans.size(); ++r) {
        const std::string rs_path = "resourceSpans[" + std::to_string(r) + "]";
        const json& rs = resource_spans[r];
        expectObject(rs, rs_path);
        onlyKnownFields(rs, rs_path, {"resource", "scopeSpans", "schemaUrl"});
        const json& resource = required(rs, rs_path, "resource");
        expectObject(resource, rs_path + ".resource");
        onlyKnownFields(resource, rs_path + ".resource", {"attributes", "droppedAttributesCount"});
        const auto resource_attributes =
            checkAttributes(required(resource, rs_path + ".resource", "attributes"), rs_path + ".resource.attributes");
        const auto service = resource_attributes.find("service.name");
        if (service == resource_attributes.end() || !service->second.contains("stringValue"))
            violate(rs_path + ".resource.attributes", "no service.name string attribute");
        const std::string service_name = service->second["stringValue"].get<std::string>();
        std::string service_version;
        if (const auto it = resource_attributes.find("service.version");
            it != resource_attributes.end() && it->second.contains("stringValue"))
            service_version = it->second["stringValue"].get<std::string>();

        const json& scope_spans = required(rs, rs_path, "scopeSpans");
        expectArray(scope_spans, rs_path + ".scopeSpans");
        for (std::size_t s = 0; s < scope_spans.size(); ++s) {
            const std::string ss_path = rs_path + ".scopeSpans[" + std::to_string(s) + "]";
            const json& ss = scope_spans[s];
            expectObject(ss, ss_path);
            onlyKnownFields(ss, ss_path, {"scope", "spans", "schemaUrl"});
            const json& scope = required(ss, ss_path, "scope");
            expectObject(scope, ss_path + ".scope");
            onlyKnownFields(scope, ss_path + ".scope", {"name", "version", "attributes", "droppedAttributesCount"});
            const std::string scope_name =
                expectString(required(scope, ss_path + ".scope", "name"), ss_path + ".scope.name");
            std::string scope_version;
            if (const auto it = scope.find("version"); it != scope.end())
                scope_version = expectString(*it, ss_path + ".scope.version");
            const json& span_list = required(ss, ss_path, "spans");
            expectArray(span_list, ss_path + ".spans");
            for (std::size_t i = 0; i < span_list.size(); ++i) {
                ReceivedSpan span = checkSpan(span_list[i], ss_path + ".spans[" + std::to_string(i) + "]");
                span.service_name = service_name;
                span.service_version = service_version;
                span.scope_name = scope_name;
                span.scope_version = scope_version;
                spans.push_back(std::move(span));
            }
        }
    }
    return spans;
}

}  // namespace

std::string ReceivedSpan::attribute(std::string_view key) const {
    const auto it = attributes.find(std::string(key));
    if (it == attributes.end()) return "";
    const json& field = it->second.begin().value();
    return field.is_string() ? field.get<std::string>() : field.dump();
}

std::string ReceivedSpan::attributeType(std::string_view key) const {
    const auto it = attributes.find(std::string(key));
    return it == attributes.end() ? "" : it->second.begin().key();
}

Result<std::vector<ReceivedSpan>> parseOtlpTraceRequest(std::string_view body) {
    json request = json::parse(body, nullptr, false);
    if (request.is_discarded()) return fail("body is not JSON");
    try {
        return checkRequest(request);
    } catch (const Violation& violation) {
        return fail(violation.message);
    }
}

}  // namespace hotgate::test

// The OTLP JSON encoder: the exact field names and JSON types of the OTLP/HTTP JSON mapping
// (hex ids, decimal-string times and intValues, integer enums), checked on the document
// itself and through the test collector's strict schema (tests/support/otlp_schema.h).
#include "telemetry/otlp_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "support/otlp_schema.h"

namespace hotgate::telemetry {
namespace {

using nlohmann::json;

Span exampleSpan() {
    Span span;
    span.trace_id = *traceIdFromHex("4bf92f3577b34da6a3ce929d0e0e4736");
    span.span_id = *spanIdFromHex("00f067aa0ba902b7");
    span.parent_span_id = spanIdFromHex("b7ad6b7169203331");
    span.name = "launch successor";
    span.kind = SpanKind::Client;
    span.start_unix_nanos = 1'700'000'000'123'456'789ULL;
    span.end_unix_nanos = 1'700'000'000'223'456'789ULL;
    span.setAttribute("binary", "/usr/bin/hotgate");
    span.setAttribute("pid", 4242);
    span.setAttribute("bpf", true);
    span.setAttribute("ratio", 0.25);
    span.status = SpanStatus{StatusCode::Error, "successor exited with 1"};
    return span;
}

ResourceInfo exampleResource() {
    return ResourceInfo{"hotgate", "0.1.0-abc", {Attribute{"host.name", std::string("gw1")}}, "0.1.0-abc"};
}

TEST(OtlpJson, WritesTheDocumentShapeOfTheMapping) {
    const std::vector<Span> spans{exampleSpan()};
    const json doc = otlpTraceRequest(exampleResource(), spans);

    const json& resource_spans = doc.at("resourceSpans");
    ASSERT_EQ(resource_spans.size(), 1u);
    const json& attributes = resource_spans[0].at("resource").at("attributes");
    EXPECT_EQ(attributes, json::parse(R"([
        {"key":"service.name","value":{"stringValue":"hotgate"}},
        {"key":"service.version","value":{"stringValue":"0.1.0-abc"}},
        {"key":"host.name","value":{"stringValue":"gw1"}}])"));
    const json& scope_spans = resource_spans[0].at("scopeSpans");
    ASSERT_EQ(scope_spans.size(), 1u);
    EXPECT_EQ(scope_spans[0].at("scope"), json::parse(R"({"name":"hotgate","version":"0.1.0-abc"})"));

    const json& span = scope_spans[0].at("spans").at(0);
    EXPECT_EQ(span, json::parse(R"({
        "traceId":"4bf92f3577b34da6a3ce929d0e0e4736",
        "spanId":"00f067aa0ba902b7",
        "parentSpanId":"b7ad6b7169203331",
        "name":"launch successor",
        "kind":3,
        "startTimeUnixNano":"1700000000123456789",
        "endTimeUnixNano":"1700000000223456789",
        "attributes":[
            {"key":"binary","value":{"stringValue":"/usr/bin/hotgate"}},
            {"key":"pid","value":{"intValue":"4242"}},
            {"key":"bpf","value":{"boolValue":true}},
            {"key":"ratio","value":{"doubleValue":0.25}}],
        "status":{"code":2,"message":"successor exited with 1"}})"));
}

TEST(OtlpJson, IdsAreHexNotBase64) {
    const std::vector<Span> spans{exampleSpan()};
    const std::string body = encodeOtlpTraceRequest(exampleResource(), spans);
    EXPECT_NE(body.find("\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\""), std::string::npos) << body;
    EXPECT_EQ(body.find("S/kvNXezTaajzpKdDg5HNg=="), std::string::npos) << "base64 of the trace id: " << body;
}

TEST(OtlpJson, KindsAndStatusCodesAreTheOtlpIntegers) {
    std::vector<Span> spans(3, exampleSpan());
    spans[0].kind = SpanKind::Internal;
    spans[0].status = SpanStatus{StatusCode::Unset, ""};
    spans[1].kind = SpanKind::Server;
    spans[1].status = SpanStatus{StatusCode::Ok, ""};
    spans[2].kind = SpanKind::Client;
    const json list = otlpTraceRequest(exampleResource(), spans)["resourceSpans"][0]["scopeSpans"][0]["spans"];
    EXPECT_EQ(list[0]["kind"], 1);
    EXPECT_EQ(list[1]["kind"], 2);
    EXPECT_EQ(list[2]["kind"], 3);
    EXPECT_EQ(list[0]["status"], json::parse(R"({"code":0})"));
    EXPECT_EQ(list[1]["status"], json::parse(R"({"code":1})"));
    EXPECT_EQ(list[2]["status"]["code"], 2);
}

TEST(OtlpJson, RootSpansHaveNoParentSpanId) {
    Span root = exampleSpan();
    root.parent_span_id.reset();
    const std::vector<Span> spans{root};
    const json span = otlpTraceRequest(exampleResource(), spans)["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    EXPECT_FALSE(span.contains("parentSpanId"));
}

TEST(OtlpJson, ExtremeIntegersAndDoublesStayExact) {
    Span span = exampleSpan();
    span.attributes.clear();
    span.setAttribute("min", std::numeric_limits<std::int64_t>::min());
    span.setAttribute("max", std::numeric_limits<std::uint64_t>::max());  // saturates: OTLP ints are signed
    span.setAttribute("nan", std::nan(""));
    span.setAttribute("inf", std::numeric_limits<double>::infinity());
    span.setAttribute("ninf", -std::numeric_limits<double>::infinity());
    span.start_unix_nanos = std::numeric_limits<std::uint64_t>::max() - 1;
    span.end_unix_nanos = std::numeric_limits<std::uint64_t>::max();
    const std::vector<Span> spans{span};
    const json encoded = otlpTraceRequest(exampleResource(), spans)["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    EXPECT_EQ(encoded["attributes"], json::parse(R"([
        {"key":"min","value":{"intValue":"-9223372036854775808"}},
        {"key":"max","value":{"intValue":"9223372036854775807"}},
        {"key":"nan","value":{"doubleValue":"NaN"}},
        {"key":"inf","value":{"doubleValue":"Infinity"}},
        {"key":"ninf","value":{"doubleValue":"-Infinity"}}])"));
    EXPECT_EQ(encoded["endTimeUnixNano"], "18446744073709551615");
    EXPECT_TRUE(test::parseOtlpTraceRequest(encodeOtlpTraceRequest(exampleResource(), spans)));
}

TEST(OtlpJson, InvalidUtf8IsReplacedNotThrown) {
    Span span = exampleSpan();
    span.name = "bad \xff byte";
    const std::vector<Span> spans{span};
    std::string body;
    ASSERT_NO_THROW(body = encodeOtlpTraceRequest(exampleResource(), spans));
    const auto parsed = test::parseOtlpTraceRequest(body);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->at(0).name, "bad \xEF\xBF\xBD byte");
}

TEST(OtlpJson, PassesTheCollectorSchema) {
    std::vector<Span> spans{exampleSpan(), exampleSpan()};
    spans[1].parent_span_id.reset();
    spans[1].span_id = randomSpanId();
    spans[1].attributes.clear();
    const auto parsed = test::parseOtlpTraceRequest(encodeOtlpTraceRequest(exampleResource(), spans));
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 2u);
    const test::ReceivedSpan& child = parsed->at(0);
    EXPECT_EQ(child.service_name, "hotgate");
    EXPECT_EQ(child.service_version, "0.1.0-abc");
    EXPECT_EQ(child.scope_name, "hotgate");
    EXPECT_EQ(child.parent_span_id, "b7ad6b7169203331");
    EXPECT_EQ(child.kind, 3);
    EXPECT_EQ(child.attribute("pid"), "4242");
    EXPECT_EQ(child.attributeType("pid"), "intValue");
    EXPECT_EQ(child.attribute("bpf"), "true");
    EXPECT_EQ(child.status_code, 2);
    EXPECT_EQ(child.status_message, "successor exited with 1");
    EXPECT_EQ(parsed->at(1).parent_span_id, "");
}

// The schema itself must refuse what the mapping forbids, or the tests above prove nothing.
TEST(OtlpSchema, RefusesWhatTheMappingForbids) {
    const std::vector<Span> spans{exampleSpan()};
    const json good = otlpTraceRequest(exampleResource(), spans);
    struct Breakage {
        const char* what;
        void (*apply)(json& span);
        const char* reason;
    };
    const Breakage breakages[] = {
        {"base64 trace id", [](json& s) { s["traceId"] = "S/kvNXezTaajzpKdDg5HNg=="; }, "traceId"},
        {"uppercase span id", [](json& s) { s["spanId"] = "00F067AA0BA902B7"; }, "lowercase hex"},
        {"short parent", [](json& s) { s["parentSpanId"] = "b7ad"; }, "parentSpanId"},
        {"numeric time", [](json& s) { s["startTimeUnixNano"] = 5; }, "string expected"},
        {"end before start", [](json& s) { s["endTimeUnixNano"] = "1"; }, "ends before it starts"},
        {"kind as a name", [](json& s) { s["kind"] = "SPAN_KIND_CLIENT"; }, "integer expected"},
        {"kind out of range", [](json& s) { s["kind"] = 9; }, "out of range"},
        {"status code 3", [](json& s) { s["status"]["code"] = 3; }, "out of range"},
        {"snake_case field", [](json& s) { s["trace_id"] = s["traceId"]; }, "unknown field 'trace_id'"},
        {"missing name", [](json& s) { s.erase("name"); }, "'name' is missing"},
        {"two value fields", [](json& s) { s["attributes"][0]["value"]["intValue"] = "1"; }, "exactly one"},
        {"int as number", [](json& s) { s["attributes"][1]["value"]["intValue"] = 4242; }, "string expected"},
    };
    for (const auto& breakage : breakages) {
        json doc = good;
        breakage.apply(doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]);
        const auto parsed = test::parseOtlpTraceRequest(doc.dump());
        ASSERT_FALSE(parsed) << breakage.what << " was accepted";
        EXPECT_NE(parsed.error().message.find(breakage.reason), std::string::npos)
            << breakage.what << ": " << parsed.error().message;
    }
    json no_service = good;
    no_service["resourceSpans"][0]["resource"]["attributes"].erase(0);
    EXPECT_FALSE(test::parseOtlpTraceRequest(no_service.dump()));
}

}  // namespace
}  // namespace hotgate::telemetry

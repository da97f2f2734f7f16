// W3C trace context on the proxied request (request_trace.h, through makeUpstreamHead): the
// client's traceparent continued or a trace started, the sampling rule, and the request span.
#include <gtest/gtest.h>

#include "capturing_sink.h"
#include "proxy/forwarding_headers.h"

namespace hotgate {
namespace {

constexpr std::string_view kSampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
constexpr std::string_view kUnsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";

struct Forwarded {
    http::request_header<> head;
    RequestTrace trace;

    std::vector<std::string> values(std::string_view name) const {
        std::vector<std::string> out;
        for (auto [it, end] = head.equal_range(name); it != end; ++it) out.emplace_back(it->value());
        return out;
    }
    std::string traceparent() const {
        const auto all = values("traceparent");
        EXPECT_EQ(all.size(), 1u);
        return all.empty() ? "" : all.front();
    }
};

Forwarded forward(std::vector<std::pair<std::string, std::string>> fields, double sample_ratio) {
    Forwarded out;
    out.head.set(http::field::host, "pay.example");
    for (const auto& [name, value] : fields) out.head.insert(name, value);
    out.trace.enabled = true;
    out.trace.sample_ratio = sample_ratio;
    makeUpstreamHead(out.head, ClientFacts{"192.0.2.1", "192.0.2.1", false, false}, false,
                     http1::BodyFraming::none(), out.trace);
    return out;
}

TEST(RequestTrace, WithoutTracingTraceparentIsAnEndToEndField) {
    http::request_header<> head;
    head.set(http::field::host, "pay.example");
    head.insert("traceparent", "00-xyz");
    head.insert("tracestate", "a=1");
    RequestTrace off;
    makeUpstreamHead(head, ClientFacts{"192.0.2.1", "192.0.2.1", false, false}, false, http1::BodyFraming::none(), off);
    EXPECT_EQ(head["traceparent"], "00-xyz") << "not ours to judge";
    EXPECT_EQ(head["tracestate"], "a=1");
    EXPECT_EQ(head.count("traceparent"), 1u);
    http::request_header<> bare;
    makeUpstreamHead(bare, ClientFacts{"192.0.2.1", "192.0.2.1", false, false}, false, http1::BodyFraming::none(), off);
    EXPECT_EQ(bare.count("traceparent"), 0u) << "none added";
}

TEST(RequestTrace, ARequestWithoutTraceparentStartsATrace) {
    const auto untraced = forward({{"tracestate", "vendor=1"}}, 0);
    const auto context = telemetry::parseTraceparent(untraced.traceparent());
    ASSERT_TRUE(context) << context.error().message;
    EXPECT_FALSE(context->sampled) << "sample_ratio 0: nothing records it";
    EXPECT_FALSE(untraced.trace.record);
    EXPECT_FALSE(untraced.trace.client_span);
    EXPECT_TRUE(untraced.values("tracestate").empty()) << "a restarted trace drops the client's tracestate";

    const auto traced = forward({}, 1);
    const auto sampled = telemetry::parseTraceparent(traced.traceparent());
    ASSERT_TRUE(sampled);
    EXPECT_TRUE(sampled->sampled);
    EXPECT_TRUE(traced.trace.record);
    EXPECT_EQ(sampled->parent_id, traced.trace.upstream.parent_id) << "the upstream's parent is this hop's span";
    EXPECT_NE(sampled->trace_id, context->trace_id);
}

TEST(RequestTrace, AHopWithoutASpanPassesTheClientsTraceparentOnUnchanged) {
    for (auto value : {kSampled, kUnsampled}) {
        const auto forwarded = forward({{"traceparent", std::string(value)}, {"tracestate", "a=1"}}, 0);
        EXPECT_EQ(forwarded.traceparent(), value);
        EXPECT_EQ(forwarded.values("tracestate"), std::vector<std::string>{"a=1"});
        EXPECT_FALSE(forwarded.trace.record);
    }
    // An unsampled parent is respected whatever the ratio.
    const auto unsampled = forward({{"traceparent", std::string(kUnsampled)}}, 1);
    EXPECT_EQ(unsampled.traceparent(), kUnsampled);
    EXPECT_FALSE(unsampled.trace.record);
}

TEST(RequestTrace, ASampledParentIsContinuedWithThisHopsSpan) {
    const auto forwarded = forward({{"traceparent", std::string(kSampled)}, {"tracestate", "a=1"}}, 0.001);
    EXPECT_TRUE(forwarded.trace.record) << "a sampled parent is recorded under any ratio above 0";
    const auto sent = telemetry::parseTraceparent(forwarded.traceparent());
    ASSERT_TRUE(sent);
    EXPECT_EQ(telemetry::toHex(sent->trace_id), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_NE(telemetry::toHex(sent->parent_id), "b7ad6b7169203331");
    EXPECT_TRUE(sent->sampled);
    ASSERT_TRUE(forwarded.trace.client_span);
    EXPECT_EQ(telemetry::toHex(*forwarded.trace.client_span), "b7ad6b7169203331");
    EXPECT_EQ(forwarded.values("tracestate"), std::vector<std::string>{"a=1"});
}

TEST(RequestTrace, InvalidOrRepeatedTraceparentsRestartTheTrace) {
    const std::vector<std::vector<std::pair<std::string, std::string>>> cases{
        {{"traceparent", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"}},  // uppercase
        {{"traceparent", "00-00000000000000000000000000000000-b7ad6b7169203331-01"}},  // zero trace id
        {{"traceparent", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},  // version ff
        {{"traceparent", std::string(kSampled)}, {"traceparent", std::string(kSampled)}},
    };
    for (const auto& fields : cases) {
        const auto forwarded = forward(fields, 0);
        const auto sent = telemetry::parseTraceparent(forwarded.traceparent());
        ASSERT_TRUE(sent) << fields.front().second;
        EXPECT_NE(telemetry::toHex(sent->trace_id), "0af7651916cd43dd8448eb211c80319c") << fields.front().second;
        EXPECT_FALSE(forwarded.trace.client_span);
    }
}

TEST(RequestTrace, TheRatioSamplesThatShareOfNewTraces) {
    int recorded = 0;
    constexpr int kRequests = 4000;
    for (int i = 0; i < kRequests; ++i) recorded += forward({}, 0.25).trace.record ? 1 : 0;
    // Binomial(4000, 0.25): the standard deviation is 27; these bounds are 7 of them away.
    EXPECT_GT(recorded, 810);
    EXPECT_LT(recorded, 1190);
}

TEST(RequestTrace, TraceparentValueIsTheVersion00Format) {
    telemetry::TraceContext context{telemetry::randomTraceId(), telemetry::randomSpanId(), true};
    const auto value = traceparentValue(context);
    EXPECT_EQ(std::string(value.data(), value.size()), telemetry::formatTraceparent(context));
    context.sampled = false;
    const auto unsampled = traceparentValue(context);
    EXPECT_EQ(std::string(unsampled.data(), unsampled.size()), telemetry::formatTraceparent(context));
}

TEST(RequestTrace, TheRequestSpanIsAServerSpanUnderTheClientsSpan) {
    const auto forwarded = forward({{"traceparent", std::string(kSampled)}}, 1);
    telemetry::CapturingSink sink;
    RequestSpanFacts facts{"POST", "/pay/x?id=7", "https", "pay", "payments", "192.0.2.1", "0.1.0/abc", 503, 1000};
    submitRequestSpan(sink, forwarded.trace, facts);
    ASSERT_EQ(sink.spans.size(), 1u);
    const auto& span = sink.spans.front();
    EXPECT_EQ(span.name, "POST");
    EXPECT_EQ(span.kind, telemetry::SpanKind::Server);
    EXPECT_EQ(telemetry::toHex(span.trace_id), "0af7651916cd43dd8448eb211c80319c");
    EXPECT_EQ(span.span_id, forwarded.trace.upstream.parent_id);
    ASSERT_TRUE(span.parent_span_id);
    EXPECT_EQ(telemetry::toHex(*span.parent_span_id), "b7ad6b7169203331");
    EXPECT_EQ(span.start_unix_nanos, 1000u);
    EXPECT_GT(span.end_unix_nanos, span.start_unix_nanos);
    auto text = [&](std::string_view key) {
        const auto* value = span.attribute(key);
        return value && std::holds_alternative<std::string>(*value) ? std::get<std::string>(*value) : std::string("-");
    };
    EXPECT_EQ(text("http.request.method"), "POST");
    EXPECT_EQ(text("url.path"), "/pay/x");
    EXPECT_EQ(text("url.query"), "id=7");
    EXPECT_EQ(text("url.scheme"), "https");
    EXPECT_EQ(text("hotgate.route"), "pay");
    EXPECT_EQ(text("hotgate.cluster"), "payments");
    ASSERT_NE(span.attribute("http.response.status_code"), nullptr);
    EXPECT_EQ(std::get<std::int64_t>(*span.attribute("http.response.status_code")), 503);
    EXPECT_EQ(span.status.code, telemetry::StatusCode::Error) << "5xx is this hop's error";

    facts.status = 404;
    submitRequestSpan(sink, forwarded.trace, facts);
    EXPECT_EQ(sink.spans.back().status.code, telemetry::StatusCode::Unset) << "4xx is the client's";
}

}  // namespace
}  // namespace hotgate

// Span ids and the Tracer: fresh ids are never zero and round-trip through hex; root, child
// and remote-parent spans link up; ActiveSpan submits exactly once, on end() or destruction,
// and honours an unsampled remote parent.
#include "telemetry/tracer.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "capturing_sink.h"

namespace hotgate::telemetry {
namespace {

TEST(SpanIds, AreFreshNonZeroAndRoundTripThroughHex) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const TraceId trace = randomTraceId();
        const SpanId span = randomSpanId();
        ASSERT_TRUE(isValid(trace));
        ASSERT_TRUE(isValid(span));
        EXPECT_EQ(traceIdFromHex(toHex(trace)), trace);
        EXPECT_EQ(spanIdFromHex(toHex(span)), span);
        seen.insert(toHex(trace));
    }
    EXPECT_EQ(seen.size(), 1000u);
    EXPECT_FALSE(isValid(TraceId{}));
    EXPECT_FALSE(isValid(SpanId{}));
    EXPECT_FALSE(traceIdFromHex("4BF92F3577B34DA6A3CE929D0E0E4736"));  // uppercase
    EXPECT_FALSE(spanIdFromHex("00f067aa0ba902b"));                    // 15 digits
}

TEST(SpanAttributes, KeepTheirTypesAndReplaceByKey) {
    Span span;
    span.setAttribute("text", "literal");  // not a bool
    span.setAttribute("count", 3);         // an int64
    span.setAttribute("big", std::uint64_t{7});
    span.setAttribute("flag", false);
    span.setAttribute("ratio", 0.5);
    span.setAttribute("count", 4);
    ASSERT_EQ(span.attributes.size(), 5u);
    EXPECT_EQ(std::get<std::string>(*span.attribute("text")), "literal");
    EXPECT_EQ(std::get<std::int64_t>(*span.attribute("count")), 4);
    EXPECT_EQ(std::get<std::int64_t>(*span.attribute("big")), 7);
    EXPECT_EQ(std::get<bool>(*span.attribute("flag")), false);
    EXPECT_EQ(std::get<double>(*span.attribute("ratio")), 0.5);
    EXPECT_EQ(span.attribute("absent"), nullptr);
}

TEST(Tracer, ChildrenShareTheTraceAndNameTheirParent) {
    CapturingSink sink;
    const Tracer tracer(&sink);
    TraceId trace{};
    SpanId root_id{};
    {
        auto root = tracer.startRootSpan("upgrade", SpanKind::Internal);
        trace = root.span().trace_id;
        root_id = root.span().span_id;
        {
            auto child = tracer.startChildSpan(root, "launch successor", SpanKind::Client);
            child.setAttribute("pid", 42);
            child.setStatus(StatusCode::Ok, "ignored with ok");
        }
        ASSERT_EQ(sink.spans.size(), 1u) << "the child ended when it went out of scope";
        root.setStatus(StatusCode::Error, "successor died");
    }
    ASSERT_EQ(sink.spans.size(), 2u);
    const Span& child = sink.spans[0];
    const Span& root = sink.spans[1];
    EXPECT_EQ(root.name, "upgrade");
    EXPECT_FALSE(root.parent_span_id);
    EXPECT_EQ(root.trace_id, trace);
    EXPECT_EQ(root.status.code, StatusCode::Error);
    EXPECT_EQ(root.status.message, "successor died");
    EXPECT_EQ(child.trace_id, trace);
    EXPECT_EQ(child.parent_span_id, root_id);
    EXPECT_NE(child.span_id, root_id);
    EXPECT_EQ(child.kind, SpanKind::Client);
    EXPECT_EQ(child.status.code, StatusCode::Ok);
    EXPECT_EQ(child.status.message, "");
    EXPECT_EQ(std::get<std::int64_t>(*child.attribute("pid")), 42);
    EXPECT_GE(child.start_unix_nanos, root.start_unix_nanos);
    EXPECT_GE(root.end_unix_nanos, child.end_unix_nanos);
}

TEST(Tracer, EndSubmitsOnceAndMovedFromSpansStayQuiet) {
    CapturingSink sink;
    const Tracer tracer(&sink);
    auto span = tracer.startRootSpan("drain");
    auto moved = std::move(span);
    moved.end();
    moved.end();
    moved.setAttribute("late", 1);  // ignored after end
    EXPECT_EQ(sink.spans.size(), 1u);
    EXPECT_TRUE(sink.spans[0].attributes.empty());
}

TEST(Tracer, ContinuesARemoteTraceAndHonoursItsSampledFlag) {
    CapturingSink sink;
    const Tracer tracer(&sink);
    const auto remote = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_TRUE(remote);
    std::string propagated;
    {
        auto span = tracer.startSpan("successor start", *remote, SpanKind::Server);
        propagated = span.traceparent();
    }
    ASSERT_EQ(sink.spans.size(), 1u);
    EXPECT_EQ(toHex(sink.spans[0].trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(toHex(*sink.spans[0].parent_span_id), "00f067aa0ba902b7");
    EXPECT_EQ(propagated, "00-4bf92f3577b34da6a3ce929d0e0e4736-" + toHex(sink.spans[0].span_id) + "-01");

    const auto unsampled = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    ASSERT_TRUE(unsampled);
    {
        auto span = tracer.startSpan("not recorded", *unsampled);
        auto child = tracer.startChildSpan(span, "nor this");
    }
    EXPECT_EQ(sink.spans.size(), 1u);
}

TEST(Tracer, WithoutASinkSpansGoNowhere) {
    const Tracer tracer(nullptr);
    auto span = tracer.startRootSpan("nothing");
    span.setAttribute("k", "v");
    span.end();
    EXPECT_TRUE(span.ended());
    EXPECT_TRUE(isValid(span.span().trace_id));
}

}  // namespace
}  // namespace hotgate::telemetry

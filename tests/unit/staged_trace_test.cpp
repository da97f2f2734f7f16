// StagedTrace (telemetry/staged_trace.h): a root and its stages one after the other, each
// ending as the next opens, with the status they were given.
#include <gtest/gtest.h>

#include "capturing_sink.h"
#include "telemetry/staged_trace.h"

namespace hotgate::telemetry {
namespace {

TEST(StagedTrace, StagesEndInOrderUnderTheRoot) {
    CapturingSink sink;
    Tracer tracer(&sink);
    {
        StagedTrace trace(tracer, "op");
        trace.stage("op:one").setAttribute("n", 1);
        trace.stage("op:two");
        ASSERT_EQ(sink.spans.size(), 1u) << "opening two ended one";
        trace.endStage(StatusCode::Error, "two broke");
        EXPECT_EQ(trace.openStage(), nullptr);
        trace.stage("op:three");
        trace.finish(StatusCode::Ok);
        EXPECT_TRUE(trace.finished());
        trace.finish(StatusCode::Error, "ignored");
    }
    ASSERT_EQ(sink.spans.size(), 4u);
    const auto& root = sink.spans.back();
    EXPECT_EQ(root.name, "op");
    EXPECT_EQ(root.status.code, StatusCode::Ok);
    const char* names[] = {"op:one", "op:two", "op:three"};
    const StatusCode codes[] = {StatusCode::Ok, StatusCode::Error, StatusCode::Ok};
    for (int i = 0; i < 3; ++i) {
        const auto& stage = sink.spans[i];
        EXPECT_EQ(stage.name, names[i]);
        EXPECT_EQ(stage.status.code, codes[i]) << names[i];
        EXPECT_EQ(stage.trace_id, root.trace_id);
        ASSERT_TRUE(stage.parent_span_id);
        EXPECT_EQ(*stage.parent_span_id, root.span_id);
        if (i) {
            EXPECT_LE(sink.spans[i - 1].end_unix_nanos, stage.start_unix_nanos);
        }
    }
    EXPECT_EQ(sink.spans[1].status.message, "two broke");
}

TEST(StagedTrace, AStageGivenAStatusKeepsItAndAnUnfinishedTraceSaysSo) {
    CapturingSink sink;
    Tracer tracer(&sink);
    {
        StagedTrace trace(tracer, "op");
        trace.stage("op:one").setStatus(StatusCode::Error, "its own");
        trace.finish(StatusCode::Ok);
    }
    EXPECT_EQ(sink.spans[0].status.message, "its own");
    sink.spans.clear();
    { StagedTrace forgotten(tracer, "op"); }
    ASSERT_EQ(sink.spans.size(), 1u);
    EXPECT_EQ(sink.spans[0].status.code, StatusCode::Error);
    EXPECT_EQ(sink.spans[0].status.message, "ended unfinished");
}

}  // namespace
}  // namespace hotgate::telemetry

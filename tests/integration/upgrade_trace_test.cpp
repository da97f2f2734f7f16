// Upgrade traces (docs/telemetry.md "Upgrade traces"): with telemetry.otlp set, the running
// version exports each upgrade it conducts as one OTLP trace to a collector, here the test's
// own receiver, which validates every body against the OTLP JSON mapping.
#include <map>

#include "support/otlp_receiver.h"
#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class UpgradeTraceTest : public UpgradeTest {
protected:
    void SetUp() override {
        UpgradeTest::SetUp();
        ASSERT_NE(receiver_.port(), 0) << "the test collector could not listen";
        config_.extra = "telemetry:\n  service_name: gateway-under-test\n  otlp: { endpoint: \"" +
                        receiver_.endpoint() + "\", timeout: 2s }\n";
    }

    // The spans of the one trace received, by name; fails the test when there is not one trace.
    std::map<std::string, ReceivedSpan> oneTrace() {
        std::map<std::string, ReceivedSpan> by_name;
        std::string trace;
        for (const auto& span : receiver_.spans()) {
            if (trace.empty()) trace = span.trace_id;
            EXPECT_EQ(span.trace_id, trace) << "every span of the upgrade in one trace:\n" << receiver_.spanTree();
            EXPECT_EQ(span.service_name, "gateway-under-test");
            EXPECT_TRUE(by_name.emplace(span.name, span).second) << "twice: " << span.name;
        }
        return by_name;
    }

    OtlpReceiver receiver_;
};

TEST_P(UpgradeTraceTest, ACommittedUpgradeIsOneTraceOfItsStages) {
    ASSERT_TRUE(startGateway());
    upgradeCycle(hotgateBBinary(), gateway_.configFile().string());
    if (HasFatalFailure()) return;
    // The commit stage ends when the old version has drained and exits.
    ASSERT_TRUE(receiver_.waitForSpans(5, 20s)) << receiver_.spanTree();
    std::this_thread::sleep_for(500ms);
    EXPECT_TRUE(receiver_.invalidBodies().empty()) << ::testing::PrintToString(receiver_.invalidBodies());
    std::cout << receiver_.spanTree();

    auto spans = oneTrace();
    ASSERT_EQ(spans.size(), 5u) << receiver_.spanTree();
    const auto& root = spans["hot-update"];
    EXPECT_TRUE(root.parent_span_id.empty());
    EXPECT_EQ(root.status_code, 1) << root.status_message;
    for (const char* stage : {"hot-update:start", "hot-update:ready", "hot-update:swap", "hot-update:commit"}) {
        ASSERT_TRUE(spans.count(stage)) << stage << "\n" << receiver_.spanTree();
        EXPECT_EQ(spans[stage].parent_span_id, root.span_id) << stage;
        EXPECT_EQ(spans[stage].status_code, 1) << stage << ": " << spans[stage].status_message;
        EXPECT_GE(spans[stage].start_unix_nanos, root.start_unix_nanos) << stage;
        EXPECT_LE(spans[stage].end_unix_nanos, root.end_unix_nanos) << stage;
    }
    EXPECT_LE(spans["hot-update:start"].end_unix_nanos, spans["hot-update:ready"].start_unix_nanos);
    EXPECT_LE(spans["hot-update:ready"].end_unix_nanos, spans["hot-update:swap"].end_unix_nanos);
    EXPECT_LE(spans["hot-update:swap"].end_unix_nanos, spans["hot-update:commit"].start_unix_nanos);
    EXPECT_NE(spans["hot-update:start"].attribute("pid"), "");
    EXPECT_EQ(spans["hot-update:swap"].attribute("rollback_safe"), "true");
    EXPECT_EQ(spans["hot-update:swap"].attributeType("latency_ms"), "doubleValue");
    EXPECT_EQ(spans["hot-update:swap"].attribute("mode"), std::string(GetParam()) == "auto" ? "bpf" : "takeover");
    EXPECT_EQ(spans["hot-update:commit"].attributeType("connections_moved"), "intValue");
    EXPECT_EQ(spans["hot-update:commit"].attributeType("drained_ms"), "intValue");
}

TEST_P(UpgradeTraceTest, ARollbackEndsTheTraceWithItsReason) {
    ASSERT_TRUE(startGateway());
    auto upgraded = upgrade(hotgateBBinary(), gateway_.configFile().string());
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    ASSERT_EQ(gwctl({"cutover"}).exit_code, 0);
    auto rolled = gwctl({"rollback"});
    ASSERT_EQ(rolled.exit_code, 0) << rolled.out << rolled.err;
    ASSERT_TRUE(receiver_.waitForSpans(5, 10s)) << receiver_.spanTree();
    std::this_thread::sleep_for(300ms);
    std::cout << receiver_.spanTree();

    auto spans = oneTrace();
    ASSERT_TRUE(spans.count("hot-update:rollback")) << receiver_.spanTree();
    EXPECT_FALSE(spans.count("hot-update:commit"));
    const auto& rollback = spans["hot-update:rollback"];
    EXPECT_EQ(rollback.attribute("automatic"), "false");
    EXPECT_NE(rollback.attribute("reason"), "");
    EXPECT_EQ(rollback.parent_span_id, spans["hot-update"].span_id);
    EXPECT_EQ(spans["hot-update"].status_code, 2);
    EXPECT_NE(spans["hot-update"].status_message.find("rolled back"), std::string::npos)
        << spans["hot-update"].status_message;
}

INSTANTIATE_TEST_SUITE_P(Modes, UpgradeTraceTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

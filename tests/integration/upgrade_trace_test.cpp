// Upgrade traces (docs/telemetry.md "Upgrade traces"): with telemetry.otlp set, the running
// version exports each upgrade it conducts as one OTLP trace to a collector, here the test's
// own receiver, which validates every body against the OTLP JSON mapping.
#include <map>

#include "release/artifact_verify.h"
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
    ASSERT_TRUE(receiver_.waitForSpans(6, 20s)) << receiver_.spanTree();
    std::this_thread::sleep_for(500ms);
    EXPECT_TRUE(receiver_.invalidBodies().empty()) << ::testing::PrintToString(receiver_.invalidBodies());
    std::cout << receiver_.spanTree();

    auto spans = oneTrace();
    ASSERT_EQ(spans.size(), 6u) << receiver_.spanTree();
    const auto& root = spans["hot-update"];
    EXPECT_TRUE(root.parent_span_id.empty());
    EXPECT_EQ(root.status_code, 1) << root.status_message;
    for (const char* stage :
         {"hot-update:pre-check", "hot-update:start", "hot-update:ready", "hot-update:swap", "hot-update:commit"}) {
        ASSERT_TRUE(spans.count(stage)) << stage << "\n" << receiver_.spanTree();
        EXPECT_EQ(spans[stage].parent_span_id, root.span_id) << stage;
        EXPECT_EQ(spans[stage].status_code, 1) << stage << ": " << spans[stage].status_message;
        EXPECT_GE(spans[stage].start_unix_nanos, root.start_unix_nanos) << stage;
        EXPECT_LE(spans[stage].end_unix_nanos, root.end_unix_nanos) << stage;
    }
    // gwctl ran the new binary's --check-config before it started it, and said so.
    EXPECT_LE(spans["hot-update:pre-check"].end_unix_nanos, spans["hot-update:start"].start_unix_nanos);
    EXPECT_EQ(spans["hot-update:pre-check"].attribute("config_hash").size(), 12u);
    EXPECT_EQ(spans["hot-update:pre-check"].attributeType("timeout_ms"), "intValue");
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
    ASSERT_TRUE(receiver_.waitForSpans(6, 10s)) << receiver_.spanTree();
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

// gwctl's own stages: a file:// download with --sha256 adds download and verify before the
// pre-check, in the trace the running version records.
TEST_P(UpgradeTraceTest, GwctlsDownloadAndVerifyAreStagesOfTheTrace) {
    ASSERT_TRUE(startGateway());
    const auto served = gateway_.dir() / "served-hotgate";
    std::filesystem::copy_file(hotgateBBinary(), served);
    const auto sha256 = release::sha256OfFile(served);
    ASSERT_TRUE(sha256) << sha256.error().message;
    const auto url = "file://" + served.string();
    const auto bundles = (gateway_.dir() / "bundles").string();
    auto upgraded = upgrade(url, gateway_.configFile().string(), {"--sha256", *sha256, "--bundle-dir", bundles});
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    ASSERT_EQ(gwctl({"rollback"}).exit_code, 0);
    ASSERT_TRUE(receiver_.waitForSpans(7, 10s)) << receiver_.spanTree();
    std::this_thread::sleep_for(300ms);
    std::cout << receiver_.spanTree();

    auto spans = oneTrace();
    const std::vector<std::string> order{"hot-update:download", "hot-update:verify", "hot-update:pre-check",
                                         "hot-update:start", "hot-update:ready", "hot-update:rollback"};
    for (std::size_t i = 0; i < order.size(); ++i) {
        ASSERT_TRUE(spans.count(order[i])) << order[i] << "\n" << receiver_.spanTree();
        EXPECT_EQ(spans[order[i]].parent_span_id, spans["hot-update"].span_id) << order[i];
        EXPECT_GE(spans[order[i]].start_unix_nanos, spans["hot-update"].start_unix_nanos) << order[i];
        if (i) {
            EXPECT_LE(spans[order[i - 1]].end_unix_nanos, spans[order[i]].start_unix_nanos) << order[i];
        }
    }
    EXPECT_EQ(spans["hot-update:download"].attribute("url"), url);
    EXPECT_EQ(spans["hot-update:download"].attribute("bundle_id"), *sha256);
    EXPECT_EQ(spans["hot-update:verify"].attribute("sha256"), *sha256);
    EXPECT_EQ(spans["hot-update:verify"].attribute("signature_valid"), "false") << "no signature was given";
    EXPECT_EQ(spans["hot-update:verify"].status_code, 1);
}

// A binary gwctl refuses never runs; the trace is gwctl's stages up to the failed one, ERROR.
TEST_P(UpgradeTraceTest, ARefusedBinaryIsATraceEndingAtTheFailedStage) {
    ASSERT_TRUE(startGateway());
    const std::string wrong(64, 'e');
    const auto url = "file://" + hotgateBBinary();
    auto refused = upgrade(url, gateway_.configFile().string(),
                           {"--sha256", wrong, "--bundle-dir", (gateway_.dir() / "bundles").string()});
    ASSERT_NE(refused.exit_code, 0) << refused.out;
    ASSERT_TRUE(receiver_.waitForSpans(3, 10s)) << receiver_.spanTree();
    std::this_thread::sleep_for(300ms);

    auto spans = oneTrace();
    ASSERT_EQ(spans.size(), 3u) << receiver_.spanTree();
    const auto& root = spans["hot-update"];
    EXPECT_EQ(root.status_code, 2);
    EXPECT_EQ(root.status_message.rfind("hot-update:verify: sha256 mismatch", 0), 0u) << root.status_message;
    EXPECT_EQ(spans["hot-update:download"].status_code, 1);
    EXPECT_EQ(spans["hot-update:verify"].status_code, 2);
    EXPECT_NE(spans["hot-update:verify"].status_message.find("expected " + wrong), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Modes, UpgradeTraceTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

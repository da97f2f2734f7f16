// Config-apply traces (docs/telemetry.md "Config-apply traces"): with telemetry.otlp set, every
// `gwctl config apply` and `gwctl config rollback` is one OTLP trace, `config-apply` with its
// stages validate, diff, swap, verify and rollback, received by the test's own collector.
#include <map>

#include "gateway_fixture.h"
#include "support/otlp_receiver.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class ConfigApplyTraceTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        ASSERT_NE(receiver_.port(), 0) << "the test collector could not listen";
        config_.extra = "telemetry:\n  otlp: { endpoint: \"" + receiver_.endpoint() +
                        "\" }\nconfig_engine:\n  verification_window: 1s\n";
    }

    // `config` written next to the running one, with the same telemetry and window.
    std::string write(const std::string& name, const GatewayConfig& config, const std::string& window = "1s") {
        auto written = config;
        written.bpffs_root = gateway_.writtenConfig().bpffs_root;
        written.extra = "telemetry:\n  otlp: { endpoint: \"" + receiver_.endpoint() +
                        "\" }\nconfig_engine:\n  verification_window: " + window + "\n";
        return gateway_.writeFile(name, written.toYaml()).string();
    }

    // The spans of the trace whose root is `config-apply` with `origin`, by name, once the
    // root has arrived (it ends last).
    std::map<std::string, ReceivedSpan> traceOf(const std::string& origin, std::size_t nth = 0) {
        std::map<std::string, ReceivedSpan> by_name;
        std::string trace;
        const bool arrived = eventually(
            [&] {
                std::size_t seen = 0;
                for (const auto& span : receiver_.spans())
                    if (span.name == "config-apply" && span.attribute("origin") == origin && seen++ == nth)
                        trace = span.trace_id;
                return !trace.empty();
            },
            10s);
        EXPECT_TRUE(arrived) << "no config-apply trace from " << origin << "\n" << receiver_.spanTree();
        for (const auto& span : receiver_.spans())
            if (span.trace_id == trace) {
                EXPECT_TRUE(by_name.emplace(span.name, span).second) << "twice: " << span.name;
            }
        EXPECT_TRUE(receiver_.invalidBodies().empty()) << ::testing::PrintToString(receiver_.invalidBodies());
        return by_name;
    }

    static void expectStagesInOrder(std::map<std::string, ReceivedSpan>& spans, const std::vector<std::string>& stages) {
        const auto& root = spans["config-apply"];
        const ReceivedSpan* before = nullptr;
        for (const auto& stage : stages) {
            ASSERT_TRUE(spans.count(stage)) << stage;
            EXPECT_EQ(spans[stage].parent_span_id, root.span_id) << stage;
            EXPECT_GE(spans[stage].start_unix_nanos, root.start_unix_nanos) << stage;
            EXPECT_LE(spans[stage].end_unix_nanos, root.end_unix_nanos) << stage;
            if (before) {
                EXPECT_LE(before->end_unix_nanos, spans[stage].start_unix_nanos) << stage;
            }
            before = &spans[stage];
        }
    }

    OtlpReceiver receiver_;
};

TEST_F(ConfigApplyTraceTest, AnInPlaceApplyIsOneTraceThroughItsVerification) {
    ASSERT_TRUE(startGateway());
    auto changed = config_;
    changed.routes[0].direct_body = "changed\n";
    const auto file = write("changed.yaml", changed);
    auto applied = gwctl({"config", "apply", "--wait", file});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;

    auto spans = traceOf("gwctl");
    std::cout << receiver_.spanTree();
    ASSERT_EQ(spans.size(), 5u) << receiver_.spanTree();
    expectStagesInOrder(spans, {"config-apply:validate", "config-apply:diff", "config-apply:swap", "config-apply:verify"});
    const auto& root = spans["config-apply"];
    EXPECT_TRUE(root.parent_span_id.empty());
    EXPECT_EQ(root.status_code, 1) << root.status_message;
    EXPECT_EQ(root.attribute("path"), file);
    EXPECT_EQ(root.attribute("config_hash").size(), 12u);
    EXPECT_NE(root.attribute("config_hash"), root.attribute("previous_hash"));
    EXPECT_EQ(spans["config-apply:validate"].attribute("problems"), "0");
    EXPECT_EQ(spans["config-apply:diff"].attribute("changes"), "1");
    EXPECT_EQ(spans["config-apply:diff"].attribute("applies"), "in_place");
    EXPECT_EQ(spans["config-apply:diff"].attribute("routes"), "direct");
    EXPECT_EQ(spans["config-apply:swap"].attributeType("apply_us"), "intValue");
    EXPECT_EQ(spans["config-apply:verify"].attribute("window_ms"), "1000");
    EXPECT_EQ(spans["config-apply:verify"].attribute("verdict").rfind("verified", 0), 0u)
        << spans["config-apply:verify"].attribute("verdict");
    EXPECT_GE(spans["config-apply:verify"].end_unix_nanos - spans["config-apply:verify"].start_unix_nanos,
              900'000'000u)
        << "verify lasts the window";
    for (const auto& [name, span] : spans) EXPECT_EQ(span.status_code, 1) << name << ": " << span.status_message;
}

TEST_F(ConfigApplyTraceTest, ARejectedFileEndsAtValidateWithItsProblems) {
    ASSERT_TRUE(startGateway());
    const auto bad = gateway_.writeFile("bad.yaml", "listeners: [ {name: x, address: \"not an address\"} ]\n");
    ASSERT_NE(gwctl({"config", "apply", bad.string()}).exit_code, 0);

    auto spans = traceOf("gwctl");
    ASSERT_EQ(spans.size(), 2u) << receiver_.spanTree();
    const auto& root = spans["config-apply"];
    EXPECT_EQ(root.status_code, 2);
    EXPECT_NE(root.status_message.find("config rejected"), std::string::npos) << root.status_message;
    const auto& validate = spans["config-apply:validate"];
    EXPECT_EQ(validate.parent_span_id, root.span_id);
    EXPECT_EQ(validate.status_code, 2);
    EXPECT_GT(std::stoi(validate.attribute("problems")), 0);
    EXPECT_NE(validate.attribute("first_problem").find("bad.yaml"), std::string::npos)
        << validate.attribute("first_problem");
}

// Rolled back while verifying: the apply's own trace ends in `config-apply:rollback`, ERROR.
// Rolled back later: the rollback is a trace of its own, OK.
TEST_F(ConfigApplyTraceTest, RollbacksJoinTheApplyTheyUndoOrStandAlone) {
    ASSERT_TRUE(startGateway());
    auto first = config_;
    first.routes[0].direct_body = "first\n";
    ASSERT_EQ(gwctl({"config", "apply", "--wait", write("first.yaml", first)}).exit_code, 0);
    auto second = config_;
    second.routes[0].direct_body = "second\n";
    ASSERT_EQ(gwctl({"config", "apply", write("second.yaml", second, "30s")}).exit_code, 0);
    auto rolled = gwctl({"config", "rollback"});
    ASSERT_EQ(rolled.exit_code, 0) << rolled.out << rolled.err;

    auto undone = traceOf("gwctl", 1);
    expectStagesInOrder(undone, {"config-apply:validate", "config-apply:diff", "config-apply:swap",
                                 "config-apply:verify", "config-apply:rollback"});
    EXPECT_EQ(undone["config-apply"].status_code, 2);
    EXPECT_EQ(undone["config-apply:verify"].status_code, 2);
    EXPECT_EQ(undone["config-apply:verify"].attribute("verdict").rfind("rolled back: ", 0), 0u);
    EXPECT_EQ(undone["config-apply:rollback"].attribute("automatic"), "false");
    EXPECT_EQ(undone["config-apply:rollback"].attribute("to_hash"), undone["config-apply"].attribute("previous_hash"));

    // Now `first` serves and is verified: rolling it back is an operation of its own.
    ASSERT_EQ(gwctl({"config", "rollback"}).exit_code, 0);
    auto standalone = traceOf("rollback");
    ASSERT_EQ(standalone.size(), 2u) << receiver_.spanTree();
    EXPECT_EQ(standalone["config-apply"].status_code, 1);
    EXPECT_EQ(standalone["config-apply:rollback"].parent_span_id, standalone["config-apply"].span_id);
    EXPECT_EQ(standalone["config-apply:rollback"].attribute("automatic"), "false");
}

}  // namespace
}  // namespace hotgate::test

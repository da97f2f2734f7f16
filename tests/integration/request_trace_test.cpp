// Request traces (docs/telemetry.md "Request traces"): every proxied request carries a W3C
// traceparent upstream, the client's continued or a new one; with telemetry.sample_ratio > 0
// hotgate exports a Server span per sampled request, under the client's span, to the test's
// collector. The ratio applies in place.
#include "gateway_fixture.h"
#include "support/otlp_receiver.h"
#include "telemetry/traceparent.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClientTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

class RequestTraceTest : public GatewayFixture {
protected:
    std::string telemetry(const std::string& ratio) const {
        return "telemetry:\n  otlp: { endpoint: \"" + receiver_.endpoint() + "\" }\n  sample_ratio: " + ratio + "\n";
    }

    // GET `target` with `headers`; the traceparent values the upstream saw.
    std::vector<std::string> forwardedTraceparents(const std::string& target,
                                                   std::map<std::string, std::string> headers = {}) {
        HttpClient client(port());
        auto reply = client.get(target, headers);
        EXPECT_TRUE(reply.ok() && reply.status() == 200u) << reply.error();
        auto seen = upstream_.lastRequest();
        EXPECT_TRUE(seen.has_value());
        return seen ? seen->values("traceparent") : std::vector<std::string>{};
    }

    OtlpReceiver receiver_;
};

TEST_F(RequestTraceTest, WithTracingEveryProxiedRequestCarriesATraceparentUpstream) {
    ASSERT_NE(receiver_.port(), 0);
    config_.extra = telemetry("0");
    ASSERT_TRUE(startGateway());
    const auto first = forwardedTraceparents("/a");
    const auto second = forwardedTraceparents("/b");
    ASSERT_EQ(first.size(), 1u);
    ASSERT_EQ(second.size(), 1u);
    const auto one = telemetry::parseTraceparent(first.front());
    const auto two = telemetry::parseTraceparent(second.front());
    ASSERT_TRUE(one) << one.error().message;
    ASSERT_TRUE(two) << two.error().message;
    EXPECT_NE(one->trace_id, two->trace_id) << "each request starts its own trace";
    EXPECT_FALSE(one->sampled) << "no sampling configured";

    // Without a span of its own, the gateway passes the client's on as it came.
    EXPECT_EQ(forwardedTraceparents("/c", {{"traceparent", kClientTrace}, {"tracestate", "v=1"}}),
              std::vector<std::string>{kClientTrace});
    EXPECT_EQ(upstream_.lastRequest()->values("tracestate"), std::vector<std::string>{"v=1"});
    // A broken one is replaced, never forwarded.
    const auto replaced = forwardedTraceparents("/d", {{"traceparent", "00-xyz"}, {"tracestate", "v=1"}});
    ASSERT_EQ(replaced.size(), 1u);
    EXPECT_TRUE(telemetry::parseTraceparent(replaced.front()));
    EXPECT_FALSE(upstream_.lastRequest()->has("tracestate"));
    EXPECT_EQ(receiver_.spans().size(), 0u) << "sample_ratio 0: no request span";
}

TEST_F(RequestTraceTest, WithoutTracingTraceparentPassesThroughUntouched) {
    ASSERT_TRUE(startGateway());
    EXPECT_TRUE(forwardedTraceparents("/a").empty()) << "none added";
    EXPECT_EQ(forwardedTraceparents("/b", {{"traceparent", "00-xyz"}}), std::vector<std::string>{"00-xyz"});
}

TEST_F(RequestTraceTest, SampledRequestsAreServerSpansInTheClientsTrace) {
    ASSERT_NE(receiver_.port(), 0);
    config_.extra = telemetry("1");
    ASSERT_TRUE(startGateway());
    const auto upstream_saw = forwardedTraceparents("/pay/x?id=7", {{"traceparent", kClientTrace}});
    ASSERT_EQ(upstream_saw.size(), 1u);
    const auto hop = telemetry::parseTraceparent(upstream_saw.front());
    ASSERT_TRUE(hop);
    EXPECT_EQ(telemetry::toHex(hop->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_TRUE(hop->sampled);
    // A request the upstream cannot answer: its span is an error.
    EXPECT_EQ(httpGet(port(), "/down/x").status(), 502u);

    ASSERT_TRUE(receiver_.waitForSpans(2, 10s)) << receiver_.spanTree();
    EXPECT_TRUE(receiver_.invalidBodies().empty()) << ::testing::PrintToString(receiver_.invalidBodies());
    std::cout << receiver_.spanTree();
    const auto spans = receiver_.spans();
    ASSERT_EQ(spans.size(), 2u) << receiver_.spanTree();
    const auto& pay = spans[0].attribute("url.path") == "/pay/x" ? spans[0] : spans[1];
    const auto& down = &pay == &spans[0] ? spans[1] : spans[0];
    EXPECT_EQ(pay.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(pay.parent_span_id, "00f067aa0ba902b7") << "under the client's span";
    EXPECT_EQ(pay.span_id, telemetry::toHex(hop->parent_id)) << "the upstream's parent is this span";
    EXPECT_EQ(pay.kind, 2) << "a Server span";
    EXPECT_EQ(pay.name, "GET");
    EXPECT_EQ(pay.attribute("http.request.method"), "GET");
    EXPECT_EQ(pay.attribute("url.query"), "id=7");
    EXPECT_EQ(pay.attribute("http.response.status_code"), "200");
    EXPECT_EQ(pay.attribute("hotgate.route"), "upstream");
    EXPECT_EQ(pay.attribute("hotgate.cluster"), "backend");
    EXPECT_EQ(pay.attribute("client.address"), "127.0.0.1");
    EXPECT_NE(pay.status_code, 2);
    EXPECT_TRUE(down.parent_span_id.empty()) << "a request without traceparent starts a trace";
    EXPECT_EQ(down.attribute("http.response.status_code"), "502");
    EXPECT_EQ(down.attribute("hotgate.route"), "down");
    EXPECT_EQ(down.status_code, 2);
}

TEST_F(RequestTraceTest, TheRatioAppliesInPlace) {
    ASSERT_NE(receiver_.port(), 0);
    config_.extra = telemetry("0");
    ASSERT_TRUE(startGateway());
    const pid_t pid = gateway_.pid();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(httpGet(port(), "/quiet").status(), 200u);

    auto sampled = config_;
    sampled.extra = telemetry("1");
    sampled.bpffs_root = gateway_.writtenConfig().bpffs_root;
    auto applied = gwctl({"config", "apply", gateway_.writeFile("sampled.yaml", sampled.toYaml()).string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    EXPECT_NE(applied.out.find("in place"), std::string::npos) << applied.out;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(httpGet(port(), "/loud").status(), 200u);
    ASSERT_TRUE(receiver_.waitForSpans(3, 10s)) << receiver_.spanTree();
    std::this_thread::sleep_for(1500ms);  // one more flush: nothing else may come
    std::size_t requests = 0;
    for (const auto& span : receiver_.spans()) {
        if (span.kind != 2) continue;  // the apply's own trace
        ++requests;
        EXPECT_EQ(span.attribute("url.path"), "/loud");
    }
    EXPECT_EQ(requests, 3u) << receiver_.spanTree();
    EXPECT_EQ(gateway_.pid(), pid);
}

}  // namespace
}  // namespace hotgate::test

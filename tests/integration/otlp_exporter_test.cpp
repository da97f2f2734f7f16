// The OTLP exporter against a real HTTP collector (tests/support/otlp_receiver.h) on
// 127.0.0.1: spans arrive and pass the strict OTLP JSON schema with their parent links,
// batches split as configured, 503s are retried and 400s are not, a full queue drops instead
// of blocking, a hung collector cannot hold up destruction, and a dead one is counted, not
// fatal. Timings are asserted loosely (seconds, not milliseconds): the machine may be busy.
#include "telemetry/otlp_exporter.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>

#include "support/otlp_receiver.h"
#include "telemetry/tracer.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using telemetry::OtlpExporter;
using telemetry::OtlpExporterOptions;

OtlpExporterOptions optionsFor(const std::string& endpoint) {
    OtlpExporterOptions options;
    options.endpoint = endpoint;
    options.service_name = "hotgate-test";
    options.service_version = "0.0.0-test";
    options.timeout = 2s;
    options.flush_interval = 60s;  // only full batches and flush() send, unless a test says otherwise
    options.initial_backoff = 10ms;
    options.max_backoff = 200ms;
    return options;
}

std::unique_ptr<OtlpExporter> makeExporter(const OtlpExporterOptions& options) {
    auto exporter = OtlpExporter::create(options);
    if (!exporter) {
        ADD_FAILURE() << exporter.error().message;
        return nullptr;
    }
    return std::move(*exporter);
}

telemetry::Span spanNamed(const std::string& name) {
    telemetry::Span span;
    span.trace_id = telemetry::randomTraceId();
    span.span_id = telemetry::randomSpanId();
    span.name = name;
    span.start_unix_nanos = telemetry::unixNanosNow();
    span.end_unix_nanos = span.start_unix_nanos + 1000;
    return span;
}

// A 127.0.0.1 port with nothing listening (bound once, then released).
std::uint16_t closedPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

TEST(OtlpExporterTest, SpansArriveValidWithTheirParentLinks) {
    OtlpReceiver receiver;
    ASSERT_NE(receiver.port(), 0);
    auto exporter = makeExporter(optionsFor(receiver.endpoint()));
    ASSERT_TRUE(exporter);
    const telemetry::Tracer tracer(exporter.get());
    std::string root_id;
    std::string launch_id;
    {
        auto upgrade = tracer.startRootSpan("upgrade");
        upgrade.setAttribute("upgrade.binary", "build/bin/hotgate_b");
        root_id = telemetry::toHex(upgrade.span().span_id);
        {
            auto launch = tracer.startChildSpan(upgrade, "launch successor", telemetry::SpanKind::Client);
            launch.setAttribute("successor.pid", 4242);
            launch_id = telemetry::toHex(launch.span().span_id);
            auto ready = tracer.startChildSpan(launch, "wait ready");
            ready.setAttribute("bpf", true);
            ready.setStatus(telemetry::StatusCode::Ok);
        }
        auto cutover = tracer.startChildSpan(upgrade, "cutover");
        cutover.setStatus(telemetry::StatusCode::Error, "successor not ready");
        cutover.end();
        upgrade.setStatus(telemetry::StatusCode::Error, "rolled back");
    }
    ASSERT_TRUE(exporter->flush(5s));
    ASSERT_TRUE(receiver.waitForSpans(4, 5s));
    EXPECT_TRUE(receiver.invalidBodies().empty()) << receiver.invalidBodies().front();

    std::map<std::string, ReceivedSpan> by_name;
    for (const auto& span : receiver.spans()) by_name[span.name] = span;
    ASSERT_EQ(by_name.size(), 4u);
    const ReceivedSpan& upgrade = by_name.at("upgrade");
    EXPECT_EQ(upgrade.service_name, "hotgate-test");
    EXPECT_EQ(upgrade.service_version, "0.0.0-test");
    EXPECT_EQ(upgrade.scope_name, "hotgate");
    EXPECT_EQ(upgrade.span_id, root_id);
    EXPECT_EQ(upgrade.parent_span_id, "");
    EXPECT_EQ(upgrade.status_code, 2);
    EXPECT_EQ(upgrade.status_message, "rolled back");
    EXPECT_EQ(upgrade.attribute("upgrade.binary"), "build/bin/hotgate_b");
    EXPECT_EQ(by_name.at("launch successor").parent_span_id, root_id);
    EXPECT_EQ(by_name.at("launch successor").kind, 3);
    EXPECT_EQ(by_name.at("launch successor").attribute("successor.pid"), "4242");
    EXPECT_EQ(by_name.at("wait ready").parent_span_id, launch_id);
    EXPECT_EQ(by_name.at("wait ready").attributeType("bpf"), "boolValue");
    EXPECT_EQ(by_name.at("cutover").parent_span_id, root_id);
    for (const auto& [name, span] : by_name) EXPECT_EQ(span.trace_id, upgrade.trace_id) << name;
    for (const auto& request : receiver.requests()) EXPECT_EQ(request.content_type, "application/json");

    const std::string tree = receiver.spanTree();
    std::cout << tree;
    EXPECT_NE(tree.find("\nupgrade [internal, "), std::string::npos) << tree;
    EXPECT_NE(tree.find("\n  launch successor [client, "), std::string::npos) << tree;
    EXPECT_NE(tree.find("\n    wait ready [internal, "), std::string::npos) << tree;
    EXPECT_NE(tree.find("\n  cutover [internal, "), std::string::npos) << tree;

    const auto counters = exporter->counters();
    EXPECT_EQ(counters.spans_exported, 4u);
    EXPECT_EQ(counters.spans_dropped_export_failed, 0u);
    EXPECT_EQ(counters.spans_dropped_queue_full, 0u);
}

TEST(OtlpExporterTest, SplitsSubmissionsIntoBatches) {
    OtlpReceiver receiver;
    auto options = optionsFor(receiver.endpoint());
    options.max_batch_size = 100;
    options.max_queue_size = 1000;
    auto exporter = makeExporter(options);
    ASSERT_TRUE(exporter);
    for (int i = 0; i < 250; ++i) ASSERT_TRUE(exporter->submit(spanNamed("span " + std::to_string(i))));
    ASSERT_TRUE(exporter->flush(10s));

    const auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_EQ(requests[0].span_count, 100u);
    EXPECT_EQ(requests[1].span_count, 100u);
    EXPECT_EQ(requests[2].span_count, 50u);
    EXPECT_EQ(receiver.spans().size(), 250u);
    EXPECT_EQ(exporter->counters().export_requests, 3u);
    EXPECT_EQ(exporter->counters().spans_exported, 250u);
}

TEST(OtlpExporterTest, APartialBatchGoesOutAfterTheFlushInterval) {
    OtlpReceiver receiver;
    auto options = optionsFor(receiver.endpoint());
    options.flush_interval = 100ms;
    auto exporter = makeExporter(options);
    ASSERT_TRUE(exporter);
    exporter->submit(spanNamed("alone"));
    EXPECT_TRUE(receiver.waitForSpans(1, 5s)) << "no flush() call: the interval must send it";
}

TEST(OtlpExporterTest, RetriesAfterTwo503sAndCountsTheRetries) {
    OtlpReceiver receiver;
    receiver.answerNext(2, 503, "0");
    auto exporter = makeExporter(optionsFor(receiver.endpoint()));
    ASSERT_TRUE(exporter);
    exporter->submit(spanNamed("persistent"));
    ASSERT_TRUE(exporter->flush(10s));

    const auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_EQ(requests[0].answered, 503u);
    EXPECT_EQ(requests[1].answered, 503u);
    EXPECT_EQ(requests[2].answered, 200u);
    ASSERT_EQ(receiver.spans().size(), 1u);
    const auto counters = exporter->counters();
    EXPECT_EQ(counters.export_requests, 3u);
    EXPECT_EQ(counters.export_retries, 2u);
    EXPECT_EQ(counters.spans_exported, 1u);
    EXPECT_EQ(counters.spans_dropped_export_failed, 0u);
}

TEST(OtlpExporterTest, HonoursRetryAfter) {
    OtlpReceiver receiver;
    receiver.answerNext(1, 429, "1");
    auto options = optionsFor(receiver.endpoint());
    options.max_backoff = 5s;  // the cap must not cut the collector's 1 s
    auto exporter = makeExporter(options);
    ASSERT_TRUE(exporter);
    exporter->submit(spanNamed("patient"));
    const auto started = Clock::now();
    ASSERT_TRUE(exporter->flush(10s));
    EXPECT_GE(Clock::now() - started, 900ms) << "retried before the Retry-After second passed";
    EXPECT_EQ(exporter->counters().export_retries, 1u);
    EXPECT_EQ(exporter->counters().spans_exported, 1u);
}

TEST(OtlpExporterTest, A400IsDroppedAndCountedNotRetried) {
    OtlpReceiver receiver;
    receiver.answerNext(1, 400);
    auto exporter = makeExporter(optionsFor(receiver.endpoint()));
    ASSERT_TRUE(exporter);
    exporter->submit(spanNamed("refused"));
    exporter->submit(spanNamed("refused too"));
    ASSERT_TRUE(exporter->flush(10s));

    EXPECT_EQ(receiver.requests().size(), 1u);
    EXPECT_TRUE(receiver.spans().empty());
    const auto counters = exporter->counters();
    EXPECT_EQ(counters.export_requests, 1u);
    EXPECT_EQ(counters.export_retries, 0u);
    EXPECT_EQ(counters.spans_dropped_export_failed, 2u);
    EXPECT_EQ(counters.spans_exported, 0u);
    EXPECT_NE(exporter->lastError().find("HTTP 400"), std::string::npos) << exporter->lastError();
}

TEST(OtlpExporterTest, AFullQueueDropsAndSubmitNeverWaits) {
    OtlpReceiver receiver;
    receiver.stallNext(1000);
    auto options = optionsFor(receiver.endpoint());
    options.max_queue_size = 100;
    options.max_batch_size = 10;
    options.timeout = 300ms;
    options.max_retries = 0;
    auto exporter = makeExporter(options);
    ASSERT_TRUE(exporter);

    const telemetry::Span span = spanNamed("flood");
    int refused = 0;
    const auto started = Clock::now();
    for (int i = 0; i < 10'000; ++i)
        if (!exporter->submit(span)) ++refused;
    const auto elapsed = Clock::now() - started;
    EXPECT_LT(elapsed, 1s) << "submit() waited on the stalled collector";

    // At most the queue and one batch in flight were taken; everything else was refused.
    EXPECT_GE(refused, 10'000 - 100 - 10);
    EXPECT_EQ(exporter->counters().spans_dropped_queue_full, static_cast<std::uint64_t>(refused));
}

TEST(OtlpExporterTest, DestructionIsBoundedWhenTheCollectorHangs) {
    OtlpReceiver receiver;
    receiver.stallNext(1000);
    auto options = optionsFor(receiver.endpoint());
    options.timeout = 500ms;
    options.max_retries = 10;
    auto exporter = makeExporter(options);
    ASSERT_TRUE(exporter);
    for (int i = 0; i < 10; ++i) exporter->submit(spanNamed("stuck"));
    EXPECT_FALSE(exporter->flush(100ms)) << "nothing can be exported to a stalled collector";
    ASSERT_TRUE(receiver.waitForRequests(1, 5s));

    const auto started = Clock::now();
    exporter.reset();
    const auto elapsed = Clock::now() - started;
    EXPECT_LT(elapsed, 500ms + 1500ms) << "the destructor waited past its timeout";
}

TEST(OtlpExporterTest, ADeadCollectorIsCountedNotFatal) {
    auto options = optionsFor("http://127.0.0.1:" + std::to_string(closedPort()) + "/v1/traces");
    options.max_retries = 2;
    auto exporter = makeExporter(options);
    ASSERT_TRUE(exporter);
    for (int i = 0; i < 5; ++i) exporter->submit(spanNamed("lost"));
    ASSERT_TRUE(exporter->flush(10s));

    const auto counters = exporter->counters();
    EXPECT_EQ(counters.spans_exported, 0u);
    EXPECT_EQ(counters.spans_dropped_export_failed, 5u);
    EXPECT_EQ(counters.export_requests, 3u);
    EXPECT_EQ(counters.export_retries, 2u);
    EXPECT_NE(exporter->lastError().find("connect"), std::string::npos) << exporter->lastError();
}

TEST(OtlpReceiverTest, RefusesAnInvalidBodyWith400) {
    OtlpReceiver receiver;
    auto options = optionsFor(receiver.endpoint());
    auto exporter = makeExporter(options);
    ASSERT_TRUE(exporter);
    telemetry::Span backwards = spanNamed("backwards");
    backwards.end_unix_nanos = backwards.start_unix_nanos - 1;  // the encoder sends what it is given
    exporter->submit(backwards);
    ASSERT_TRUE(exporter->flush(10s));
    ASSERT_EQ(receiver.invalidBodies().size(), 1u);
    EXPECT_NE(receiver.invalidBodies()[0].find("ends before it starts"), std::string::npos)
        << receiver.invalidBodies()[0];
    EXPECT_EQ(exporter->counters().spans_dropped_export_failed, 1u);
}

}  // namespace
}  // namespace hotgate::test

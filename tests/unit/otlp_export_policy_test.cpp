// The exporter's decisions without sockets: which POST outcomes are retried (OTLP/HTTP:
// transport failures, 429, 502, 503, 504), the backoff and its cap, Retry-After, the endpoint
// URL, and the options create() refuses.
#include <gtest/gtest.h>

#include "telemetry/export_retry.h"
#include "telemetry/http_post.h"
#include "telemetry/otlp_exporter.h"

namespace hotgate::telemetry {
namespace {

using namespace std::chrono_literals;

PostOutcome answered(unsigned status) {
    return PostOutcome{PostFailure::None, status, std::nullopt, {}};
}

TEST(ExportRetry, TwoHundredsAreExported) {
    EXPECT_EQ(exportVerdict(answered(200)), ExportVerdict::Exported);
    EXPECT_EQ(exportVerdict(answered(202)), ExportVerdict::Exported);
}

TEST(ExportRetry, OnlyTheTransientStatusesAreRetried) {
    for (unsigned status : {429u, 502u, 503u, 504u})
        EXPECT_EQ(exportVerdict(answered(status)), ExportVerdict::Retry) << status;
    for (unsigned status : {400u, 401u, 403u, 404u, 413u, 415u, 500u, 501u, 301u})
        EXPECT_EQ(exportVerdict(answered(status)), ExportVerdict::Drop) << status;
}

TEST(ExportRetry, TransportFailuresAreRetriedButAnAbortIsNot) {
    for (auto failure :
         {PostFailure::Resolve, PostFailure::Connect, PostFailure::Send, PostFailure::Receive, PostFailure::Timeout})
        EXPECT_EQ(exportVerdict(PostOutcome{failure, 0, std::nullopt, {}}), ExportVerdict::Retry);
    EXPECT_EQ(exportVerdict(PostOutcome{PostFailure::Aborted, 0, std::nullopt, {}}), ExportVerdict::Drop);
}

TEST(ExportRetry, BackoffDoublesUpToTheCap) {
    const RetryPolicy policy{10, 100ms, 1000ms};
    EXPECT_EQ(retryDelay(policy, 1, std::nullopt), 100ms);
    EXPECT_EQ(retryDelay(policy, 2, std::nullopt), 200ms);
    EXPECT_EQ(retryDelay(policy, 3, std::nullopt), 400ms);
    EXPECT_EQ(retryDelay(policy, 4, std::nullopt), 800ms);
    EXPECT_EQ(retryDelay(policy, 5, std::nullopt), 1000ms);
    EXPECT_EQ(retryDelay(policy, 60, std::nullopt), 1000ms);  // no overflow far out
}

TEST(ExportRetry, RetryAfterReplacesTheBackoffAndIsCapped) {
    const RetryPolicy policy{10, 100ms, 5000ms};
    EXPECT_EQ(retryDelay(policy, 3, 0s), 0ms);
    EXPECT_EQ(retryDelay(policy, 1, 2s), 2000ms);
    EXPECT_EQ(retryDelay(policy, 1, 3600s), 5000ms);
}

TEST(ExportRetry, ParsesRetryAfterSecondsOnly) {
    EXPECT_EQ(parseRetryAfterSeconds("0"), 0s);
    EXPECT_EQ(parseRetryAfterSeconds(" 120 "), 120s);
    EXPECT_EQ(parseRetryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
    EXPECT_EQ(parseRetryAfterSeconds("-1"), std::nullopt);
    EXPECT_EQ(parseRetryAfterSeconds(""), std::nullopt);
    EXPECT_EQ(parseRetryAfterSeconds("1.5"), std::nullopt);
}

TEST(HttpEndpoint, TakesAnHttpUrlApart) {
    const auto endpoint = parseHttpEndpoint("http://127.0.0.1:4318/v1/traces");
    ASSERT_TRUE(endpoint) << endpoint.error().message;
    EXPECT_EQ(endpoint->host, "127.0.0.1");
    EXPECT_EQ(endpoint->port, "4318");
    EXPECT_EQ(endpoint->target, "/v1/traces");

    const auto defaults = parseHttpEndpoint("http://collector");
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults->port, "80");
    EXPECT_EQ(defaults->target, "/");

    const auto ipv6 = parseHttpEndpoint("http://[::1]:4318/v1/traces");
    ASSERT_TRUE(ipv6) << ipv6.error().message;
    EXPECT_EQ(ipv6->host, "::1");
    EXPECT_EQ(ipv6->port, "4318");
}

TEST(HttpEndpoint, RefusesWhatItCannotServe) {
    const std::pair<const char*, const char*> cases[] = {
        {"https://collector:4318/v1/traces", "https is not supported"},
        {"grpc://collector:4317", "expected http://"},
        {"http://:4318/v1/traces", "no host"},
        {"http://collector:0/v1/traces", "not 1..65535"},
        {"http://collector:70000/v1/traces", "not 1..65535"},
        {"http://collector:43x8/v1/traces", "not 1..65535"},
        {"http://collector:4318/v1/traces?x=1", "query"},
        {"http://user:pw@collector:4318/v1/traces", "credentials"},
        {"http://[::1/v1/traces", "unclosed"},
    };
    for (const auto& [url, reason] : cases) {
        const auto endpoint = parseHttpEndpoint(url);
        ASSERT_FALSE(endpoint) << url;
        EXPECT_NE(endpoint.error().message.find(reason), std::string::npos) << url << ": " << endpoint.error().message;
        EXPECT_NE(endpoint.error().message.find(url), std::string::npos) << "the message names the URL";
    }
}

TEST(OtlpExporterOptions, ProtobufIsRefusedAtConstruction) {
    OtlpExporterOptions options;
    options.encoding = OtlpEncoding::Protobuf;
    const auto exporter = OtlpExporter::create(options);
    ASSERT_FALSE(exporter);
    EXPECT_NE(exporter.error().message.find("protobuf encoding is not supported"), std::string::npos)
        << exporter.error().message;
}

TEST(OtlpExporterOptions, NonsenseIsRefusedWithTheOptionNamed) {
    const std::pair<void (*)(OtlpExporterOptions&), const char*> cases[] = {
        {[](OtlpExporterOptions& o) { o.max_queue_size = 0; }, "max_queue_size"},
        {[](OtlpExporterOptions& o) { o.max_batch_size = 0; }, "max_batch_size"},
        {[](OtlpExporterOptions& o) { o.timeout = 0ms; }, "timeout"},
        {[](OtlpExporterOptions& o) { o.flush_interval = -1ms; }, "flush_interval"},
        {[](OtlpExporterOptions& o) { o.max_retries = -1; }, "max_retries"},
        {[](OtlpExporterOptions& o) { o.max_backoff = 1ms; }, "max_backoff"},
        {[](OtlpExporterOptions& o) { o.service_name.clear(); }, "service_name"},
        {[](OtlpExporterOptions& o) { o.endpoint = "https://x/v1/traces"; }, "https"},
    };
    for (const auto& [apply, option] : cases) {
        OtlpExporterOptions options;
        apply(options);
        const auto exporter = OtlpExporter::create(options);
        ASSERT_FALSE(exporter) << option;
        EXPECT_NE(exporter.error().message.find(option), std::string::npos) << exporter.error().message;
    }
}

}  // namespace
}  // namespace hotgate::telemetry

// Loading telemetry: the defaults (no export; a config without the section keeps its hash),
// every key, and each refusal naming its config path.
#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.h"
#include "load_problems.h"

namespace hotgate {
namespace {

using namespace std::chrono_literals;

const std::string kBase = R"(listeners: [{name: public, address: 127.0.0.1:8080}]
routes: [{name: all, match: {path_prefix: /}, direct_response: {status: 200}}]
)";

TEST(TelemetryConfig, AbsentMeansNoExportAndTheSameHash) {
    auto plain = loadConfigText(kBase, "test.yaml");
    ASSERT_TRUE(plain) << formatProblems(plain.error());
    EXPECT_EQ((*plain)->telemetry.otlp.endpoint, "");
    EXPECT_EQ((*plain)->telemetry.service_name, "hotgate");
    EXPECT_EQ((*plain)->telemetry.otlp.timeout, 2s);
    EXPECT_EQ((*plain)->telemetry.otlp.encoding, OtlpWireEncoding::Json);
    auto defaults = loadConfigText(kBase + "telemetry: {service_name: hotgate, otlp: {encoding: json, timeout: 2s}}\n",
                                   "test.yaml");
    ASSERT_TRUE(defaults) << formatProblems(defaults.error());
    EXPECT_EQ((*defaults)->hash, (*plain)->hash) << "the defaults written out mean the same config";
}

TEST(TelemetryConfig, ReadsEveryKey) {
    auto config = loadConfigText(
        kBase + "telemetry:\n  service_name: edge\n  otlp: {endpoint: \"http://127.0.0.1:4318/v1/traces\", timeout: 500ms}\n",
        "test.yaml");
    ASSERT_TRUE(config) << formatProblems(config.error());
    EXPECT_EQ((*config)->telemetry.service_name, "edge");
    EXPECT_EQ((*config)->telemetry.otlp.endpoint, "http://127.0.0.1:4318/v1/traces");
    EXPECT_EQ((*config)->telemetry.otlp.timeout, 500ms);
    EXPECT_EQ((*config)->telemetry.sample_ratio, 0);

    auto sampled = loadConfigText(
        kBase + "telemetry: {sample_ratio: 0.01, otlp: {endpoint: \"http://127.0.0.1:4318/v1/traces\"}}\n", "test.yaml");
    ASSERT_TRUE(sampled) << formatProblems(sampled.error());
    EXPECT_EQ((*sampled)->telemetry.sample_ratio, 0.01);
}

TEST(TelemetryConfig, RefusesWhatItCannotExportWithThePath) {
    const auto protobuf = problemsOf(kBase + "telemetry: {otlp: {endpoint: \"http://127.0.0.1:4318/v1/traces\", encoding: protobuf}}\n");
    EXPECT_NE(protobuf.find("telemetry.otlp.encoding"), std::string::npos) << protobuf;
    EXPECT_NE(protobuf.find("protobuf is not supported"), std::string::npos) << protobuf;

    const auto https = problemsOf(kBase + "telemetry: {otlp: {endpoint: \"https://collector:4318/v1/traces\"}}\n");
    EXPECT_NE(https.find("telemetry.otlp.endpoint"), std::string::npos) << https;

    const auto word = problemsOf(kBase + "telemetry: {otlp: {encoding: xml}}\n");
    EXPECT_NE(word.find("telemetry.otlp.encoding"), std::string::npos) << word;

    const auto nowhere = problemsOf(kBase + "telemetry: {sample_ratio: 0.5}\n");
    EXPECT_NE(nowhere.find("telemetry.sample_ratio"), std::string::npos) << nowhere;
    EXPECT_NE(nowhere.find("request spans need a collector"), std::string::npos) << nowhere;
    const auto above_one = problemsOf(kBase + "telemetry: {sample_ratio: 1.5, otlp: {endpoint: \"http://127.0.0.1:4318/v1/traces\"}}\n");
    EXPECT_NE(above_one.find("telemetry.sample_ratio"), std::string::npos) << above_one;

    const auto unknown = problemsOf(kBase + "telemetry: {otlp: {endpiont: \"http://127.0.0.1:4318/v1/traces\"}}\n");
    EXPECT_NE(unknown.find("endpiont"), std::string::npos) << unknown;
}

}  // namespace
}  // namespace hotgate

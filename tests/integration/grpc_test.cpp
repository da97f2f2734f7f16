// gRPC through hotgate (docs/http2.md, "gRPC"): an h2 listener in front, an h2 cluster behind,
// with Debian's grpcio as client and server (tests/support/grpc_echo.py, generic handlers, no
// generated code). Unary and bidirectional streaming RPCs, trailers passed through, the gRPC
// statuses hotgate answers for its own refusals, grpc-timeout, an HTTP/1.1 client on the same
// h2 cluster, and a real upgrade under 20 ping-pong streams and 200 unary RPCs a second: no RPC
// fails, and streams that outlive the old version's drain end with UNAVAILABLE, which the
// client retries on the new version.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <iostream>
#include <set>

#include "support/grpc_echo_server.h"
#include "support/test_certificates.h"
#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kEchoPrefix = "/hotgate.test.Echo/";

// Routes gRPC to an h2 cluster `grpc` on `endpoint_port`, in front of the fixture's routes.
void addGrpcRoute(GatewayConfig& config, std::uint16_t endpoint_port, const std::string& route_extra = "",
                  const std::string& cluster_extra = "") {
    config.listener_extra = "    protocols: [h2, http1]\n";
    config.clusters.push_back({.name = "grpc",
                               .endpoints = {"127.0.0.1:" + std::to_string(endpoint_port)},
                               .extra = "    protocol: h2\n" + cluster_extra});
    config.routes.insert(config.routes.begin(), {.name = "grpc",
                                                 .match = "{ path_prefix: " + std::string(kEchoPrefix) + " }",
                                                 .cluster = "grpc",
                                                 .extra = route_extra});
}

class GrpcTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        std::string error;
        ASSERT_TRUE(echo_.start(gateway_.dir(), "a", error)) << error;
    }
    nlohmann::json call(std::vector<std::string> args) { return grpcCall(gateway_.dir(), port(), std::move(args)); }

    GrpcEchoServer echo_;
};

TEST_F(GrpcTest, UnaryAndBidiStreamsPassWithTheirTrailers) {
    addGrpcRoute(config_, echo_.port());
    ASSERT_TRUE(startGateway());
    const auto unary = call({"--message", "hi"});
    EXPECT_EQ(unary.value("code", ""), "OK") << unary.dump();
    EXPECT_EQ(unary["responses"], nlohmann::json::array({"a hi"})) << unary.dump();
    EXPECT_EQ(unary["trailers"].value("x-echo-trailer", ""), "a") << unary.dump();
    EXPECT_FALSE(unary["initial"].value("x-hotgate-version", "").empty()) << unary.dump();
    const auto bidi = call({"--method", "Bidi", "--message", "m", "--count", "3"});
    EXPECT_EQ(bidi.value("code", ""), "OK") << bidi.dump();
    EXPECT_EQ(bidi["responses"], nlohmann::json::array({"a m", "a m", "a m"})) << bidi.dump();
    // A status the endpoint sends passes through with its message and trailers.
    const auto denied = call({"--metadata", "status=7"});
    EXPECT_EQ(denied.value("code", ""), "PERMISSION_DENIED") << denied.dump();
    EXPECT_EQ(denied.value("details", ""), "asked for 7") << denied.dump();
    EXPECT_EQ(denied["trailers"].value("x-echo-trailer", ""), "a") << denied.dump();
    // Ping-pong streams: each message is answered before the next is sent, so a stream only
    // works if its request and response flow at once.
    const auto result = runCommand(grpcEchoCommand({"load", "--target", "127.0.0.1:" + std::to_string(port()),
                                                    "--seconds", "3", "--streams", "4", "--unary-rate", "50"}),
                                   gateway_.dir(), 30s);
    const auto load = nlohmann::json::parse(result.out, nullptr, false);
    ASSERT_FALSE(load.is_discarded()) << result.out << result.err;
    EXPECT_EQ(load.value("unary_failed", -1), 0) << load.dump(2);
    EXPECT_EQ(load.value("messages_bad", -1), 0) << load.dump(2);
    EXPECT_EQ(load.value("streams_failed", -1), 0) << load.dump(2);
    EXPECT_EQ(load.value("streams_ok", 0), 4) << load.dump(2);
    EXPECT_GT(load.value("messages_ok", 0), 40) << load.dump(2);
    EXPECT_TRUE(metricReaches("hotgate_grpc_responses_total", {{"route", "grpc"}, {"grpc_status", "0"}}, 50));
    EXPECT_TRUE(metricReaches("hotgate_grpc_responses_total", {{"route", "grpc"}, {"grpc_status", "7"}}, 1));
}

TEST_F(GrpcTest, HotgateAnswersItsOwnRefusalsAsGrpcStatuses) {
    // No endpoint answers: UNAVAILABLE.
    addGrpcRoute(config_, down_port_);
    ASSERT_TRUE(startGateway());
    const auto unavailable = call({});
    EXPECT_EQ(unavailable.value("code", ""), "UNAVAILABLE") << unavailable.dump();
    EXPECT_NE(unavailable.value("details", "").find("upstream connect failed"), std::string::npos)
        << unavailable.dump();
    EXPECT_TRUE(metricReaches("hotgate_grpc_responses_total", {{"route", "grpc"}, {"grpc_status", "14"}}, 1));
}

TEST_F(GrpcTest, RateLimitIsResourceExhaustedAndGrpcTimeoutIsDeadlineExceeded) {
    addGrpcRoute(config_, echo_.port(), "    rate_limit: {requests_per_second: 1, burst: 2, key: client_ip}\n");
    ASSERT_TRUE(startGateway());
    // The client's 300 ms deadline reaches the endpoint as grpc-timeout, and hotgate ends the
    // exchange itself when it passes (counted as DEADLINE_EXCEEDED).
    const auto late = call({"--timeout", "0.3", "--metadata", "sleep-ms=2000"});
    EXPECT_EQ(late.value("code", ""), "DEADLINE_EXCEEDED") << late.dump();
    EXPECT_TRUE(metricReaches("hotgate_grpc_responses_total", {{"route", "grpc"}, {"grpc_status", "4"}}, 1));
    const auto second = call({});
    EXPECT_EQ(second.value("code", ""), "OK") << second.dump();
    const auto limited = call({});
    EXPECT_EQ(limited.value("code", ""), "RESOURCE_EXHAUSTED") << limited.dump();
    EXPECT_NE(limited.value("details", "").find("rate limit"), std::string::npos) << limited.dump();
    EXPECT_TRUE(metricReaches("hotgate_grpc_responses_total", {{"route", "grpc"}, {"grpc_status", "8"}}, 1));
}

TEST_F(GrpcTest, AnHttp1ClientReachesAnH2ClusterWithTrailersInTheLastChunk) {
    addGrpcRoute(config_, echo_.port());
    ASSERT_TRUE(startGateway());
    // One gRPC message ("hi" behind its 5-byte prefix), posted over HTTP/1.1.
    const auto body = gateway_.writeFile("message.bin", std::string("\0\0\0\0\2hi", 7));
    const auto head = gateway_.dir() / "head.txt";
    const auto result = runCommand({"/usr/bin/curl", "-sS", "--http1.1", "--max-time", "10", "-D", head.string(),
                                    "-H", "content-type: application/grpc", "-H", "te: trailers", "--data-binary",
                                    "@" + body.string(),
                                    "http://127.0.0.1:" + std::to_string(port()) + std::string(kEchoPrefix) + "Unary"},
                                   gateway_.dir(), 15s);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, std::string("\0\0\0\0\4a hi", 9));
    const auto fields = readFile(head);
    EXPECT_NE(fields.find("HTTP/1.1 200"), std::string::npos) << fields;
    EXPECT_NE(fields.find("Transfer-Encoding: chunked"), std::string::npos) << fields;
    EXPECT_NE(fields.find("grpc-status: 0"), std::string::npos) << fields;  // the trailer section
    EXPECT_NE(fields.find("x-echo-trailer: a"), std::string::npos) << fields;
}

TEST_F(GrpcTest, StreamsBeyondTheConnectionAndStreamLimitsWaitThenGetUnavailable) {
    // One connection of one stream: a second RPC waits for the first to end, up to
    // timeouts.upstream_connect.
    config_.upstream_connect = "700ms";
    addGrpcRoute(config_, echo_.port(), "", "    http2: {connections_per_endpoint: 1, max_streams_per_connection: 1}\n");
    ASSERT_TRUE(startGateway());
    const auto target = "127.0.0.1:" + std::to_string(port());
    auto concurrently = [&](const std::string& sleep_ms) {
        std::vector<std::unique_ptr<ChildProcess>> calls;
        for (int i = 0; i < 2; ++i) {
            auto call = std::make_unique<ChildProcess>();
            std::string error;
            const auto out = gateway_.dir() / ("call-" + std::to_string(i) + ".json");
            EXPECT_TRUE(call->start(grpcEchoCommand({"call", "--target", target, "--metadata", "sleep-ms=" + sleep_ms}),
                                    out, gateway_.dir() / ("call-" + std::to_string(i) + ".err"), error))
                << error;
            calls.push_back(std::move(call));
        }
        std::multiset<std::string> codes;
        for (auto& call : calls) {
            EXPECT_TRUE(call->waitExit(30s).has_value());
            codes.insert(nlohmann::json::parse(call->readStdout(), nullptr, false).value("code", "?"));
        }
        return codes;
    };
    // Each takes 200 ms: the second waits for the first, then goes on the same connection.
    EXPECT_EQ(concurrently("200"), (std::multiset<std::string>{"OK", "OK"}));
    // Each takes 1.5 s: the second gives up after 700 ms.
    EXPECT_EQ(concurrently("1500"), (std::multiset<std::string>{"OK", "UNAVAILABLE"}));
    EXPECT_TRUE(metricReaches("hotgate_grpc_responses_total", {{"route", "grpc"}, {"grpc_status", "14"}}, 1));
}

TEST_F(GrpcTest, AnEndpointThatGoesAwayLosesNoRpc) {
    // Two endpoints; one stops gracefully (GOAWAY, then its RPCs in flight finish) under load:
    // hotgate stops opening streams on its connection, and what the endpoint refused or could
    // not take goes to the other one.
    GrpcEchoServer second;
    std::string error;
    ASSERT_TRUE(second.start(gateway_.dir(), "b", error)) << error;
    addGrpcRoute(config_, echo_.port());
    config_.clusters.back().endpoints.push_back("127.0.0.1:" + std::to_string(second.port()));
    ASSERT_TRUE(startGateway());
    ChildProcess load;
    ASSERT_TRUE(load.start(grpcEchoCommand({"load", "--target", "127.0.0.1:" + std::to_string(port()), "--seconds",
                                            "5", "--streams", "0", "--unary-rate", "200"}),
                           gateway_.dir() / "load.json", gateway_.dir() / "load.err", error))
        << error;
    std::this_thread::sleep_for(2s);
    echo_.terminate();
    ASSERT_TRUE(load.waitExit(40s).has_value());
    const auto summary = nlohmann::json::parse(load.readStdout(), nullptr, false);
    ASSERT_FALSE(summary.is_discarded()) << load.readStdout() << load.readStderr();
    EXPECT_EQ(summary.value("unary_failed", -1), 0) << summary.dump(2);
    EXPECT_GT(summary.value("unary_ok", 0), 600) << summary.dump(2);
    const auto servers = summary.value("servers", nlohmann::json::object());
    EXPECT_GT(servers.value("a", 0), 0) << summary.dump(2);
    EXPECT_GT(servers.value("b", 0), servers.value("a", 0)) << summary.dump(2);
}

TEST_F(GrpcTest, AnH2ClusterOverTlsAgreesOnH2ByAlpn) {
    TestCa ca(gateway_.dir().string());
    const auto certificate = ca.issue("grpc-upstream", {"grpc.internal"});
    GrpcEchoServer secure;
    std::string error;
    ASSERT_TRUE(secure.start(gateway_.dir(), "tls", error, certificate.certificate_file, certificate.key_file))
        << error;
    addGrpcRoute(config_, secure.port());
    auto& cluster = config_.clusters.back();
    cluster.tls = true;
    cluster.tls_ca_file = ca.caFile();
    cluster.tls_sni = "grpc.internal";
    ASSERT_TRUE(startGateway());
    const auto unary = call({"--message", "over tls"});
    EXPECT_EQ(unary.value("code", ""), "OK") << unary.dump();
    EXPECT_EQ(unary["responses"], nlohmann::json::array({"tls over tls"})) << unary.dump();
    const auto bidi = call({"--method", "Bidi", "--message", "m", "--count", "2"});
    EXPECT_EQ(bidi["responses"], nlohmann::json::array({"tls m", "tls m"})) << bidi.dump();
    // A certificate for another name: the handshake fails, and the client hears UNAVAILABLE.
    auto other = gateway_.writtenConfig();
    other.clusters.back().tls_sni = "other.internal";
    const auto applied = gwctl({"config", "apply", gateway_.writeFile("other.yaml", other.toYaml()).string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    const auto refused = call({});
    EXPECT_EQ(refused.value("code", ""), "UNAVAILABLE") << refused.dump();
    EXPECT_NE(refused.value("details", "").find("TLS handshake failed"), std::string::npos) << refused.dump();
}

class GrpcUpgradeTest : public UpgradeTest {
protected:
    void SetUp() override {
        UpgradeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        std::string error;
        ASSERT_TRUE(echo_.start(gateway_.dir(), "a", error)) << error;
    }

    // 20 ping-pong bidirectional streams and 200 unary RPCs a second through an upgrade,
    // cutover and commit; the old version must be gone within `old_version_gone`.
    nlohmann::json loadThroughAnUpgrade(std::chrono::milliseconds old_version_gone) {
        EXPECT_TRUE(startGateway());
        ChildProcess load;
        constexpr int kSeconds = 10;
        std::string error;
        EXPECT_TRUE(load.start(grpcEchoCommand({"load", "--target", "127.0.0.1:" + std::to_string(port()),
                                                "--seconds", std::to_string(kSeconds), "--streams", "20",
                                                "--interval", "0.1", "--unary-rate", "200"}),
                               gateway_.dir() / "grpc-load.json", gateway_.dir() / "grpc-load.err", error))
            << error;
        std::this_thread::sleep_for(2s);
        const std::string old_version(httpGet(port(), "/").response["x-hotgate-version"]);
        upgradeCycle(hotgateBBinary(), gateway_.configFile().string());  // upgrade, cutover, commit
        EXPECT_TRUE(onlyOneVersionLeft(old_version_gone));
        EXPECT_NE(std::string(httpGet(port(), "/").response["x-hotgate-version"]), old_version);
        EXPECT_TRUE(load.waitExit(std::chrono::seconds(kSeconds + 30)).has_value()) << "the load did not stop";
        auto summary = nlohmann::json::parse(load.readStdout(), nullptr, false);
        EXPECT_FALSE(summary.is_discarded()) << load.readStdout() << load.readStderr();
        std::cout << "grpc load: " << summary.dump() << "\n";
        return summary.is_discarded() ? nlohmann::json::object() : summary;
    }

    GrpcEchoServer echo_;
};

TEST_P(GrpcUpgradeTest, UpgradeUnderStreamsAndUnaryLoadFailsNoRpc) {
    addGrpcRoute(config_, echo_.port());
    config_.drain = "3s";  // the streams outlive it: they are ended with UNAVAILABLE
    const auto summary = loadThroughAnUpgrade(15s);
    if (HasFatalFailure()) return;
    EXPECT_EQ(summary.value("unary_failed", -1), 0) << summary.dump(2);
    EXPECT_GT(summary.value("unary_ok", 0), 1000) << summary.dump(2);
    EXPECT_EQ(summary.value("messages_bad", -1), 0) << summary.dump(2);
    EXPECT_EQ(summary.value("streams_failed", -1), 0) << summary.dump(2);
    EXPECT_EQ(summary.value("streams_ok", 0), 20) << summary.dump(2);
    // Every stream outlived the old version's drain: it was ended with UNAVAILABLE (nothing
    // else) and reopened on the new version, where it finished.
    EXPECT_GE(summary.value("streams_retried", 0), 20) << summary.dump(2);
    const auto codes = summary.value("retry_codes", nlohmann::json::object());
    EXPECT_EQ(codes.size(), 1u) << summary.dump(2);
    EXPECT_TRUE(codes.contains("UNAVAILABLE")) << summary.dump(2);
}

TEST_P(GrpcUpgradeTest, RouteStreamDrainEndsStreamsBeforeTheVersionDrain) {
    // timeouts.drain would keep the old version 30 s; the route's streams get 1 s.
    addGrpcRoute(config_, echo_.port(), "    stream_drain: 1s\n");
    config_.drain = "30s";
    const auto summary = loadThroughAnUpgrade(8s);
    if (HasFatalFailure()) return;
    EXPECT_EQ(summary.value("unary_failed", -1), 0) << summary.dump(2);
    EXPECT_EQ(summary.value("streams_failed", -1), 0) << summary.dump(2);
    EXPECT_EQ(summary.value("messages_bad", -1), 0) << summary.dump(2);
    EXPECT_EQ(summary.value("streams_ok", 0), 20) << summary.dump(2);
    EXPECT_GE(summary.value("streams_retried", 0), 20) << summary.dump(2);
    EXPECT_EQ(summary.value("retry_codes", nlohmann::json::object()).size(), 1u) << summary.dump(2);
}

INSTANTIATE_TEST_SUITE_P(Modes, GrpcUpgradeTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

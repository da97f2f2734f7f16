// HTTP/2 to clients (docs/http2.md): h2c by prior knowledge and ALPN h2 beside HTTP/1.1, every
// route served the same, many streams on few connections, and each abuse limit ending only the
// abusing connection while a well-behaved client keeps being served fast. Real clients from
// Debian: curl, nghttp, h2load, and tests/support/h2_frames.py for the frames no well-behaved
// library sends.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <sstream>

#include "gateway_fixture.h"
#include "support/fnv1a.h"
#include "support/test_certificates.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

struct CurlResult {
    bool ran = false;
    std::string body;
    std::string headers;       // the response head, lower-cased names as sent
    std::string http_version;  // "2", "1.1"
    int status = 0;
    double seconds = 0;
    std::string error;
};

// Runs curl with `args`; the last line curl writes (-w) carries the version, status and time.
CurlResult curl(const std::filesystem::path& dir, std::vector<std::string> args) {
    const auto head_file = dir / "curl-head.txt";
    std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "10", "-D", head_file.string(),
                                  "-w", "\n%{http_version} %{http_code} %{time_total}"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = runCommand(argv, dir, 15s);
    CurlResult out;
    out.ran = result.exit_code == 0;
    out.error = result.err;
    const auto last = result.out.rfind('\n');
    out.body = last == std::string::npos ? result.out : result.out.substr(0, last);
    std::istringstream tail(last == std::string::npos ? "" : result.out.substr(last + 1));
    tail >> out.http_version >> out.status >> out.seconds;
    out.headers = readFile(head_file);
    return out;
}

class Http2Test : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        config_.listener_extra = "    protocols: [h2, http1]\n";
    }

    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port()) + path; }

    CurlResult h2(const std::string& path, std::vector<std::string> extra = {}) {
        extra.insert(extra.begin(), "--http2-prior-knowledge");
        extra.push_back(url(path));
        return curl(gateway_.dir(), extra);
    }

    // tests/support/h2_frames.py against this gateway: its JSON report.
    nlohmann::json frames(const std::string& which, int n = 0) {
        const auto result = runCommand({"/usr/bin/python3", std::string(HOTGATE_SOURCE_DIR) + "/tests/support/h2_frames.py",
                                        std::to_string(port()), which, std::to_string(n)},
                                       gateway_.dir(), 40s);
        auto report = nlohmann::json::parse(result.out, nullptr, false);
        EXPECT_FALSE(report.is_discarded()) << which << ": " << result.out << result.err;
        return report.is_discarded() ? nlohmann::json::object() : report;
    }

    // An abuse case runs while a well-behaved client sends requests on its own connections:
    // every one answered 200 over HTTP/2 within 500 ms.
    nlohmann::json abuseBesideAGoodClient(const std::string& which, int n) {
        ChildProcess abuser;
        std::string error;
        const auto dir = gateway_.dir();
        EXPECT_TRUE(abuser.start({"/usr/bin/python3", std::string(HOTGATE_SOURCE_DIR) + "/tests/support/h2_frames.py",
                                  std::to_string(port()), which, std::to_string(n)},
                                 dir / (which + ".out"), dir / (which + ".err"), error))
            << error;
        for (int i = 0; i < 8; ++i) {
            const auto good = h2("/good");
            EXPECT_EQ(good.status, 200) << which << ": " << good.error;
            EXPECT_EQ(good.http_version, "2");
            EXPECT_LT(good.seconds, 0.5) << which << ": a well-behaved request took " << good.seconds << " s";
            std::this_thread::sleep_for(50ms);
        }
        EXPECT_TRUE(abuser.waitExit(40s).has_value()) << which << " did not finish";
        auto report = nlohmann::json::parse(abuser.readStdout(), nullptr, false);
        EXPECT_FALSE(report.is_discarded()) << which << ": " << abuser.readStdout() << abuser.readStderr();
        return report.is_discarded() ? nlohmann::json::object() : report;
    }
};

constexpr int kEnhanceYourCalm = 0xb;
constexpr int kRefusedStream = 0x7;

// The GOAWAY error code the client received, -1 for none.
int goawayCode(const nlohmann::json& report) {
    const auto it = report.find("goaway");
    return it != report.end() && it->is_number_integer() ? it->get<int>() : -1;
}

TEST_F(Http2Test, PriorKnowledgeH2AndHttp11ShareAPlaintextListener) {
    ASSERT_TRUE(startGateway());
    const auto got = h2("/hello");
    ASSERT_TRUE(got.ran) << got.error;
    EXPECT_EQ(got.http_version, "2");
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, "ok /hello\n");
    EXPECT_NE(got.headers.find("x-hotgate-version: "), std::string::npos) << got.headers;

    const auto plain = curl(gateway_.dir(), {"--http1.1", url("/hello")});
    EXPECT_EQ(plain.http_version, "1.1");
    EXPECT_EQ(plain.body, "ok /hello\n");
    // Upgrade: h2c is not taken up: the answer comes in HTTP/1.1.
    const auto upgrade = curl(gateway_.dir(), {"--http2", url("/hello")});
    EXPECT_EQ(upgrade.http_version, "1.1");
    EXPECT_EQ(upgrade.body, "ok /hello\n");
    // nghttp, another client library.
    const auto nghttp = runCommand({"/usr/bin/nghttp", url("/from-nghttp")}, gateway_.dir());
    EXPECT_EQ(nghttp.exit_code, 0) << nghttp.err;
    EXPECT_EQ(nghttp.out, "ok /from-nghttp\n");
    // Direct responses are the same over HTTP/2.
    EXPECT_EQ(h2("/direct").body, "direct\n");
    EXPECT_TRUE(metricReaches("hotgate_http2_streams_total", {{"end", "finished"}}, 3));
    EXPECT_TRUE(metricReaches("hotgate_http_requests_total", {{"listener", "public"}}, 5));
}

TEST_F(Http2Test, RequestBodiesWithAndWithoutALengthReachTheUpstreamWhole) {
    ASSERT_TRUE(startGateway());
    std::string body(300 * 1024, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7) % 26);
    const auto file = gateway_.dir() / "body.bin";
    std::ofstream(file, std::ios::binary) << body;
    const std::string expected = [&] { Fnv1a64 digest; digest.update(body); return digest.summary(); }() + "\n";
    const auto with_length = h2("/hash", {"--data-binary", "@" + file.string()});
    EXPECT_EQ(with_length.status, 200) << with_length.error;
    EXPECT_EQ(with_length.body, expected);
    // Without content-length the body goes to the HTTP/1.1 side chunked.
    const auto without = h2("/hash", {"--data-binary", "@" + file.string(), "-H", "Content-Length:"});
    EXPECT_EQ(without.status, 200) << without.error;
    EXPECT_EQ(without.body, expected);
    // And a large response streams back under flow control.
    const auto large = h2("/chunked?n=200&size=8192");
    EXPECT_EQ(large.status, 200);
    EXPECT_EQ(large.body.size(), 200u * 8192u);
}

TEST_F(Http2Test, TlsListenerNegotiatesH2ByAlpnAndStillServesHttp11) {
    TestCa ca(gateway_.dir().string());
    const auto api = ca.issue("api", {"api.example.test"});
    config_.tls_certificates = {{api.certificate_file, api.key_file, {}}};
    ASSERT_TRUE(startGateway());
    const std::string base = "https://api.example.test:" + std::to_string(port());
    const std::vector<std::string> tls{"--cacert", ca.caFile(), "--resolve",
                                       "api.example.test:" + std::to_string(port()) + ":127.0.0.1"};
    auto args = tls;
    args.insert(args.end(), {"--http2", base + "/headers"});
    const auto got = curl(gateway_.dir(), args);
    ASSERT_TRUE(got.ran) << got.error;
    EXPECT_EQ(got.http_version, "2");
    const auto seen = upstream_.requests();
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.back().values("x-forwarded-proto"), std::vector<std::string>{"https"}) << got.body;
    args = tls;
    args.insert(args.end(), {"--http1.1", base + "/headers"});
    EXPECT_EQ(curl(gateway_.dir(), args).http_version, "1.1");
}

TEST_F(Http2Test, AListenerWithoutH2KeepsToHttp11) {
    config_.listener_extra.clear();
    ASSERT_TRUE(startGateway());
    const auto refused = h2("/hello");
    EXPECT_NE(refused.http_version, "2");
    EXPECT_NE(refused.body, "ok /hello\n");
    EXPECT_EQ(curl(gateway_.dir(), {url("/hello")}).body, "ok /hello\n");
}

TEST_F(Http2Test, AnIdleConnectionIsToldToGoAfterTheIdleTimeout) {
    config_.idle = "1s";
    ASSERT_TRUE(startGateway());
    const auto report = frames("idle", 5);
    EXPECT_EQ(report["statuses"].value("1", 0), 200) << report.dump();
    EXPECT_EQ(goawayCode(report), 0) << report.dump();  // NO_ERROR
    EXPECT_EQ(report.value("goaway_last_stream", -1), 1) << report.dump();
    EXPECT_GE(report.value("elapsed", 0.0), 0.9) << report.dump();
    EXPECT_TRUE(metricReaches("hotgate_http2_goaways_total", {{"reason", "idle"}}, 1));
}

TEST_F(Http2Test, AStreamOutlivingTheDrainIsResetNotBroken) {
    config_.drain = "1s";
    ASSERT_TRUE(startGateway());
    ChildProcess client;
    std::string error;
    const auto dir = gateway_.dir();
    ASSERT_TRUE(client.start({"/usr/bin/python3", std::string(HOTGATE_SOURCE_DIR) + "/tests/support/h2_frames.py",
                              std::to_string(port()), "slow", "8000"},
                             dir / "slow.out", dir / "slow.err", error))
        << error;
    ASSERT_TRUE(eventually([&] { return client.readStderr().find("ready") != std::string::npos; }));
    ASSERT_TRUE(eventually([&] { return upstream_.requestHeadersSeen() == 1; }));
    const auto signalled = std::chrono::steady_clock::now();
    ASSERT_TRUE(gateway_.signal(SIGTERM));
    ASSERT_TRUE(client.waitExit(20s).has_value());
    auto report = nlohmann::json::parse(client.readStdout(), nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << client.readStdout() << client.readStderr();
    // The drain's GOAWAY first (NO_ERROR, stream 1 accepted), then at timeouts.drain the reset.
    EXPECT_EQ(report["resets"].value("1", -1), 0x8) << report.dump();  // CANCEL
    EXPECT_EQ(goawayCode(report), 0) << report.dump();
    EXPECT_EQ(report.value("goaway_last_stream", -1), 1) << report.dump();
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
    EXPECT_GE(waited, 0.9);
    EXPECT_LT(waited, 5.0);
    EXPECT_TRUE(gateway_.waitExit(10s).has_value());
}

TEST_F(Http2Test, ManyStreamsShareFewConnections) {
    ASSERT_TRUE(startGateway());
    const auto load = runCommand({"/usr/bin/h2load", "-n", "2000", "-c", "4", "-m", "20", url("/many")}, gateway_.dir(), 60s);
    ASSERT_EQ(load.exit_code, 0) << load.err;
    EXPECT_NE(load.out.find("2000 succeeded, 0 failed, 0 errored"), std::string::npos) << load.out;
    EXPECT_NE(load.out.find("status codes: 2000 2xx"), std::string::npos) << load.out;
    EXPECT_EQ(upstream_.requestHeadersSeen(), 2000u);
}

class Http2AbuseTest : public Http2Test {
protected:
    void SetUp() override {
        Http2Test::SetUp();
        config_.listener_extra += "    http2: {max_concurrent_streams: 5}\n";
        config_.send = "1s";
    }
};

TEST_F(Http2AbuseTest, RapidResetEndsTheConnectionWithEnhanceYourCalm) {
    ASSERT_TRUE(startGateway());
    const auto report = abuseBesideAGoodClient("rapid-reset", 1000);
    EXPECT_EQ(goawayCode(report), kEnhanceYourCalm) << report.dump();
    EXPECT_TRUE(metricReaches("hotgate_http2_goaways_total", {{"reason", "rapid_reset"}}, 1));
}

TEST_F(Http2AbuseTest, PingSettingsAndEmptyDataFloodsEndTheConnection) {
    ASSERT_TRUE(startGateway());
    for (const char* flood : {"ping-flood", "settings-flood", "empty-data-flood"}) {
        const auto report = abuseBesideAGoodClient(flood, 1000);
        EXPECT_EQ(goawayCode(report), kEnhanceYourCalm) << flood << ": " << report.dump();
    }
    EXPECT_TRUE(metricReaches("hotgate_http2_goaways_total", {{"reason", "control_flood"}}, 3));
}

TEST_F(Http2AbuseTest, ContinuationFloodEndsTheConnection) {
    ASSERT_TRUE(startGateway());
    const auto report = abuseBesideAGoodClient("continuation-flood", 50);
    EXPECT_EQ(goawayCode(report), kEnhanceYourCalm) << report.dump();
    EXPECT_TRUE(metricReaches("hotgate_http2_goaways_total", {{"reason", "header_flood"}}, 1));
}

TEST_F(Http2AbuseTest, AFloodReadWithThePrefaceMeetsTheSameLimit) {
    // The preface, the HEADERS and the CONTINUATIONs in one write: the session begins with the
    // whole flood already read (by the HTTP/1.1 reader that recognised the preface).
    ASSERT_TRUE(startGateway());
    for (int i = 0; i < 5; ++i) {
        const auto report = abuseBesideAGoodClient("continuation-flood-first-write", 50);
        EXPECT_EQ(goawayCode(report), kEnhanceYourCalm) << report.dump();
    }
    EXPECT_TRUE(metricReaches("hotgate_http2_goaways_total", {{"reason", "header_flood"}}, 5));
}

TEST_F(Http2AbuseTest, HpackBombIsAnswered431AndTheConnectionGoesOn) {
    ASSERT_TRUE(startGateway());
    const auto report = abuseBesideAGoodClient("hpack-bomb", 30);  // 30 x 4 kB decoded: over 64 kB
    EXPECT_EQ(report["statuses"].value("1", 0), 431) << report.dump();
    EXPECT_EQ(report["statuses"].value("3", 0), 200) << report.dump();
    EXPECT_TRUE(report["goaway"].is_null()) << report.dump();
    EXPECT_TRUE(report.value("ping_answered", false)) << report.dump();
    EXPECT_EQ(upstream_.requestHeadersSeen(), 1u + 8u);  // the GET after the bomb and the good client's
}

TEST_F(Http2AbuseTest, StreamsOverTheLimitAreRefusedAndTheOthersServed) {
    ASSERT_TRUE(startGateway());
    const auto report = abuseBesideAGoodClient("streams", 8);
    int served = 0, refused = 0;
    for (const auto& [id, status] : report["statuses"].items()) served += status == 200;
    for (const auto& [id, code] : report["resets"].items()) refused += code == kRefusedStream;
    EXPECT_EQ(served, 5) << report.dump();
    EXPECT_EQ(refused, 3) << report.dump();
    EXPECT_TRUE(report.value("ping_answered", false)) << report.dump();
    EXPECT_TRUE(metricReaches("hotgate_http2_streams_total", {{"end", "refused"}}, 3));
}

TEST_F(Http2AbuseTest, AnApplyChangesTheStreamLimitOfNewConnectionsInPlace) {
    ASSERT_TRUE(startGateway());
    auto lowered = config_;
    lowered.bpffs_root = gateway_.writtenConfig().bpffs_root;
    lowered.listener_extra = "    protocols: [h2, http1]\n    http2: {max_concurrent_streams: 3}\n";
    const auto applied = gwctl({"config", "apply", gateway_.writeFile("lowered.yaml", lowered.toYaml()).string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    EXPECT_TRUE(metricReaches("hotgate_config_applies_total", {{"result", "applied"}}, 1));  // in place
    const auto report = frames("streams", 5);
    int served = 0, refused = 0;
    for (const auto& [id, status] : report["statuses"].items()) served += status == 200;
    for (const auto& [id, code] : report["resets"].items()) refused += code == kRefusedStream;
    EXPECT_EQ(served, 3) << report.dump();
    EXPECT_EQ(refused, 2) << report.dump();
}

TEST_F(Http2AbuseTest, AStreamWhoseWindowNeverOpensIsResetAfterTheSendTimeout) {
    ASSERT_TRUE(startGateway());
    const auto report = abuseBesideAGoodClient("zero-window", 0);
    ASSERT_TRUE(report["resets"].contains("1")) << report.dump();
    EXPECT_GE(report.value("elapsed", 0.0), 0.9) << report.dump();
    EXPECT_LE(report.value("elapsed", 99.0), 5.0) << report.dump();
    EXPECT_TRUE(report.value("ping_answered", false)) << "the connection itself was closed: " << report.dump();
    EXPECT_TRUE(metricReaches("hotgate_http2_streams_total", {{"end", "cut"}}, 1));
}

}  // namespace
}  // namespace hotgate::test

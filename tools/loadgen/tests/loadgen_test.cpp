// loadgen against small in-process servers on 127.0.0.1: exact open-loop counts, version
// attribution, and each failure kind a gateway upgrade must never cause, counted as such.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <sys/wait.h>

#include "report.h"
#include "runner.h"
#include "stream_client.h"
#include "test_servers.h"

namespace hotgate::loadgen {
namespace {

using test::ServerBehavior;
using test::TestServer;
using Kind = ServerBehavior::Kind;

Options optionsFor(const std::string& target, unsigned duration_s) {
    Options options;
    options.target_text = target;
    options.duration_s = duration_s;
    options.timeout_ms = 1000;
    return options;
}

RunResult run(Options options) {
    const auto valid = validate(options);
    EXPECT_TRUE(valid) << valid.error();
    return runLoad(options, nullptr);
}

std::uint64_t count(const RunResult& result, TrafficKind kind, Outcome outcome) {
    return result.total.outcomes[index(kind)][index(outcome)];
}

std::uint64_t failuresOf(const RunResult& result, TrafficKind kind) {
    std::uint64_t n = 0;
    for (std::size_t o = 1; o < kOutcomes; ++o) n += result.total.outcomes[index(kind)][o];
    return n;
}

std::string dump(const Options& options, const RunResult& result) {
    Options copy = options;
    (void)validate(copy);
    return summaryJson(copy, result)["kinds"].dump(1);
}

TEST(LoadgenTest, AllOkRunCountsExactlyTheOpenLoopSchedule) {
    TestServer server({});
    for (const unsigned threads : {1u, 2u}) {
        Options options = optionsFor(server.target(), 1);
        options.rate = 300;
        options.threads = threads;
        const RunResult result = run(options);
        SCOPED_TRACE(dump(options, result));
        EXPECT_EQ(count(result, TrafficKind::kNewConnection, Outcome::kOk), 300u) << "threads=" << threads;
        EXPECT_EQ(failures(result.total), 0u);
        EXPECT_EQ(result.total.connections[index(TrafficKind::kNewConnection)], 300u);
        // The per-second series adds up to the total.
        std::uint64_t per_second = 0;
        for (const auto& second : result.seconds) per_second += second.outcomes[index(TrafficKind::kNewConnection)][0];
        EXPECT_EQ(per_second, 300u);
        EXPECT_EQ(result.total.latency[index(TrafficKind::kNewConnection)].count(), 300u);
        EXPECT_FALSE(result.hard_stopped);
    }
}

TEST(LoadgenTest, AttributesEveryResponseToTheVersionThatServedIt) {
    ServerBehavior behavior;
    behavior.switch_after = 100;  // "A" for the first 100 responses, then "B"
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.rate = 200;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    const VersionMap& versions = result.total.versions[index(TrafficKind::kNewConnection)];
    ASSERT_EQ(versions.count("A"), 1u);
    ASSERT_EQ(versions.count("B"), 1u);
    EXPECT_EQ(versions.at("A").count, 100u);
    EXPECT_EQ(versions.at("B").count, 100u);
    // Open loop at 200/s: the switch shows at about t=0.5 s, A before, B after.
    EXPECT_LE(versions.at("A").first_s, versions.at("A").last_s);
    EXPECT_LE(versions.at("A").last_s, versions.at("B").first_s + 0.05);
    EXPECT_NEAR(versions.at("B").first_s, 0.5, 0.2);
    std::uint64_t per_second_b = 0;
    for (const auto& second : result.seconds) {
        const auto& map = second.versions[index(TrafficKind::kNewConnection)];
        if (auto it = map.find("B"); it != map.end()) per_second_b += it->second;
    }
    EXPECT_EQ(per_second_b, 100u);
}

TEST(LoadgenTest, AllThreeKindsTogetherOnTwoThreads) {
    ServerBehavior behavior;
    behavior.echo_websockets = true;
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 2);
    options.rate = 200;
    options.keepalive = 6;
    options.streams = 4;
    options.threads = 2;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    EXPECT_EQ(failures(result.total), 0u);
    EXPECT_EQ(count(result, TrafficKind::kNewConnection, Outcome::kOk), 400u);
    EXPECT_GT(count(result, TrafficKind::kKeepalive, Outcome::kOk), 100u);
    EXPECT_GE(count(result, TrafficKind::kStream, Outcome::kOk), 4u * 18);
    EXPECT_EQ(result.total.connections[index(TrafficKind::kKeepalive)], 6u) << "no reconnects needed";
    EXPECT_EQ(result.total.connections[index(TrafficKind::kStream)], 4u);
}

TEST(LoadgenTest, WebSocketVersionIsReadOnThe101) {
    ServerBehavior behavior;
    behavior.kind = Kind::kWebSocketEcho;
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.streams = 3;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    const auto k = index(TrafficKind::kStream);
    EXPECT_EQ(failuresOf(result, TrafficKind::kStream), 0u);
    EXPECT_EQ(result.total.versions[k].at("A").count, 3u);
    // A message every 100 ms for 1 s on 3 streams: about 30 verified echoes.
    EXPECT_GE(count(result, TrafficKind::kStream, Outcome::kOk), 27u);
    EXPECT_LE(count(result, TrafficKind::kStream, Outcome::kOk), 33u);
}

TEST(LoadgenTest, ServerResettingMidRequestCountsReset) {
    ServerBehavior behavior;
    behavior.kind = Kind::kResetMidRequest;
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.rate = 50;
    options.keepalive = 2;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    EXPECT_EQ(count(result, TrafficKind::kNewConnection, Outcome::kReset), 50u);
    EXPECT_GT(count(result, TrafficKind::kKeepalive, Outcome::kReset), 0u);
    EXPECT_EQ(count(result, TrafficKind::kKeepalive, Outcome::kReset), failuresOf(result, TrafficKind::kKeepalive));
    EXPECT_EQ(successes(result.total), 0u);
}

TEST(LoadgenTest, KeepaliveCloseAnnouncedBetweenRequestsIsNoFailure) {
    ServerBehavior behavior;
    behavior.close_every = 3;  // every third response says Connection: close, then the server closes
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.keepalive = 4;
    options.keepalive_mode = KeepaliveMode::kMixed;
    options.pause_max_ms = 20;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    const auto k = index(TrafficKind::kKeepalive);
    EXPECT_EQ(failures(result.total), 0u);
    EXPECT_GT(count(result, TrafficKind::kKeepalive, Outcome::kOk), 100u);
    EXPECT_GT(result.total.clean_closes[k], 10u);
    // One reconnect per close, except for a close on a client's very last response.
    EXPECT_LE(result.total.connections[k], result.total.clean_closes[k] + 4);
    EXPECT_GE(result.total.connections[k], result.total.clean_closes[k]);
}

TEST(LoadgenTest, KeepaliveIdleCloseSeenBeforeTheNextRequestIsNoFailure) {
    ServerBehavior behavior;
    behavior.idle_close_ms = 20;  // a FIN, no Connection: close, while the client pauses
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.keepalive = 4;
    options.keepalive_mode = KeepaliveMode::kPaused;
    options.pause_min_ms = 60;  // well past the server's idle close: no race is possible
    options.pause_max_ms = 100;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    EXPECT_EQ(failures(result.total), 0u);
    EXPECT_GT(count(result, TrafficKind::kKeepalive, Outcome::kOk), 20u);
    EXPECT_GT(result.total.clean_closes[index(TrafficKind::kKeepalive)], 20u);
}

TEST(LoadgenTest, ServerClosingAfterReadingARequestIsAFailure) {
    ServerBehavior behavior;
    behavior.kind = Kind::kCloseOnRequest;
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.rate = 20;
    options.keepalive = 2;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    EXPECT_EQ(count(result, TrafficKind::kNewConnection, Outcome::kShortRead), 20u);
    EXPECT_GT(count(result, TrafficKind::kKeepalive, Outcome::kShortRead), 0u);
    EXPECT_EQ(result.total.clean_closes[index(TrafficKind::kKeepalive)], 0u) << "a sent request is never a clean close";
    EXPECT_EQ(successes(result.total), 0u);
}

TEST(LoadgenTest, SilentServerCountsTimeouts) {
    ServerBehavior behavior;
    behavior.kind = Kind::kSilent;
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.rate = 10;
    options.keepalive = 1;
    options.timeout_ms = 300;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    EXPECT_EQ(count(result, TrafficKind::kNewConnection, Outcome::kTimeout), 10u);
    EXPECT_GE(count(result, TrafficKind::kKeepalive, Outcome::kTimeout), 3u);
    EXPECT_EQ(successes(result.total), 0u);
}

TEST(LoadgenTest, NonSuccessStatusCountsBadStatus) {
    ServerBehavior behavior;
    behavior.status = 503;
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.rate = 20;
    const RunResult result = run(options);
    EXPECT_EQ(count(result, TrafficKind::kNewConnection, Outcome::kBadStatus), 20u);
    EXPECT_EQ(result.total.versions[index(TrafficKind::kNewConnection)].at("A").count, 20u) << "bad statuses are still attributed";
}

TEST(LoadgenTest, NothingListeningCountsRefused) {
    Options options = optionsFor("127.0.0.1:" + std::to_string(test::unusedPort()), 1);
    options.rate = 20;
    options.streams = 1;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    EXPECT_EQ(count(result, TrafficKind::kNewConnection, Outcome::kRefused), 20u);
    EXPECT_GT(count(result, TrafficKind::kStream, Outcome::kRefused), 0u);
}

TEST(LoadgenTest, CorruptedEchoCountsStreamMismatch) {
    ServerBehavior behavior;
    behavior.kind = Kind::kWebSocketEcho;
    behavior.corrupt_message = 5;
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.streams = 2;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    EXPECT_EQ(count(result, TrafficKind::kStream, Outcome::kStreamMismatch), 1u);
    EXPECT_EQ(count(result, TrafficKind::kStream, Outcome::kStreamBroken), 0u);
    EXPECT_GT(count(result, TrafficKind::kStream, Outcome::kOk), 10u);
    const auto& details = result.total.details[index(TrafficKind::kStream)][index(Outcome::kStreamMismatch)];
    ASSERT_EQ(details.size(), 1u);
    EXPECT_NE(details.begin()->first.find("differs"), std::string::npos) << details.begin()->first;
}

TEST(LoadgenTest, WebSocketServerClosingAStreamCountsStreamBroken) {
    ServerBehavior behavior;
    behavior.kind = Kind::kWebSocketEcho;
    behavior.close_after_messages = 3;  // each stream: three echoes, then a close frame
    TestServer server(behavior);
    Options options = optionsFor(server.target(), 1);
    options.streams = 1;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    // 3 echoes, close, reconnect 100 ms later, ...: a broken stream every ~0.4 s.
    EXPECT_GE(count(result, TrafficKind::kStream, Outcome::kStreamBroken), 2u);
    EXPECT_EQ(count(result, TrafficKind::kStream, Outcome::kStreamMismatch), 0u);
    EXPECT_GE(count(result, TrafficKind::kStream, Outcome::kOk), 6u) << "every echo before a close verified";
}

TEST(LoadgenTest, DeclinedWebSocketUpgradeCountsBadStatus) {
    // An HTTP-only server answers the upgrade with a plain 200: the stream never opens.
    TestServer server({});
    Options options = optionsFor(server.target(), 1);
    options.streams = 1;
    const RunResult result = run(options);
    SCOPED_TRACE(dump(options, result));
    EXPECT_GT(count(result, TrafficKind::kStream, Outcome::kBadStatus), 0u);
}

TEST(StreamClientTest, MismatchNamesWhatDiffers) {
    const std::string expected = std::string(7, '\0') + "\x05" + "payload";
    EXPECT_EQ(StreamClient::mismatch(expected, expected), "");
    std::string flipped = expected;
    flipped[10] ^= 1;
    EXPECT_EQ(StreamClient::mismatch(expected, flipped), "byte 10 of seq 5 differs");
    std::string later = expected;
    later[7] = 6;
    EXPECT_EQ(StreamClient::mismatch(expected, later), "seq 6 arrived, expected 5");
    EXPECT_EQ(StreamClient::mismatch(expected, expected + "x"), "length 16 of seq 5, expected 15");
}

// The executable: JSON on stdout, exit 0 / 1 / 2.
int runBinary(const std::string& arguments, std::string* stdout_text = nullptr) {
    const std::string out_file = ::testing::TempDir() + "loadgen_stdout.json";
    const std::string command = std::string(LOADGEN_BIN) + " " + arguments + " >" + out_file + " 2>/dev/null";
    const int status = std::system(command.c_str());
    if (stdout_text) {
        std::ifstream in(out_file);
        std::stringstream text;
        text << in.rdbuf();
        *stdout_text = text.str();
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(LoadgenBinaryTest, ExitStatusSaysWhetherAnythingFailed) {
    TestServer ok_server({});
    std::string json_text;
    EXPECT_EQ(runBinary("--target " + ok_server.target() + " --duration 1 --rate 50 --keepalive 2", &json_text), 0);
    const auto summary = nlohmann::json::parse(json_text);
    EXPECT_EQ(summary["kinds"]["new_connection"]["outcomes"]["ok"], 50);
    EXPECT_EQ(summary["success"], true);
    EXPECT_GE(summary["per_second"].size(), 1u);
    EXPECT_LE(summary["per_second"].size(), 2u) << "the run's second, and a tail if a response landed after it";

    ServerBehavior reset;
    reset.kind = Kind::kResetMidRequest;
    TestServer reset_server(reset);
    EXPECT_EQ(runBinary("--target " + reset_server.target() + " --duration 1 --rate 10"), 1);
}

TEST(LoadgenBinaryTest, BadArgumentsExitWith2) {
    EXPECT_EQ(runBinary("--target 127.0.0.1:1 --rate 1"), 2) << "--duration is required";
    EXPECT_EQ(runBinary("--target 192.0.2.1:80 --duration 1 --rate 1"), 2) << "not loopback";
    EXPECT_EQ(runBinary("--target 127.0.0.1:1 --duration 601 --rate 1"), 2);
    EXPECT_EQ(runBinary("--target 127.0.0.1:1 --duration 1"), 2) << "no traffic asked for";
    EXPECT_EQ(runBinary("--target 127.0.0.1:1 --duration 1 --rate 1 --keepalive-mode lazy"), 2);
    EXPECT_EQ(runBinary("--target 127.0.0.1:1 --duration 1 --rate -5"), 2);
}

}  // namespace
}  // namespace hotgate::loadgen

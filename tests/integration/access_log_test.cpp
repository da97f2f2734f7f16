// The access log end to end (docs/operations.md "Access log"): a line per answered request
// with what it got, in both formats; sampling that keeps every error; a config apply that
// changes the log in place or is refused for a file it cannot open; rotation with gwctl logs
// reopen and SIGUSR1; a failing disk counted, never waited for; and, across a real upgrade in
// both steering modes, a log that shows the switch of versions with one line per request.
#include <csignal>
#include <fstream>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> linesOf(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

class AccessLogTest : public GatewayFixture {
protected:
    std::filesystem::path logFile(const std::string& name) const { return gateway_.dir() / name; }

    // Waits until `path` holds `count` lines (the writer flushes every 100 ms).
    std::vector<std::string> waitForLines(const std::filesystem::path& path, std::size_t count) {
        std::vector<std::string> lines;
        eventually([&] { return (lines = linesOf(path)).size() >= count; }, 5s);
        return lines;
    }
};

TEST_F(AccessLogTest, EachAnswerHasALineSayingWhatItGot) {
    config_.extra = "access_log:\n  - {path: \"" + logFile("access.json").string() + "\"}\n  - {path: \"" +
                    logFile("access.log").string() + "\", format: combined}\n";
    ASSERT_TRUE(startGateway());
    const auto proxied = rawExchange(port(), "GET /pay?x=1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: order-42\r\n"
                                             "User-Agent: t/1\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(statusOf(proxied.data), 200) << proxied.data;
    const std::string version = headerOf(proxied.data, "x-hotgate-version");
    ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);
    ASSERT_EQ(httpGet(port(), "/down/x").status(), 502u);
    ASSERT_EQ(rawExchange(port(), "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").data.substr(0, 12),
              "HTTP/1.1 400");

    const auto lines = waitForLines(logFile("access.json"), 4);
    ASSERT_EQ(lines.size(), 4u);
    std::vector<nlohmann::json> json;
    json.reserve(lines.size());
    for (const auto& line : lines) json.push_back(nlohmann::json::parse(line));
    EXPECT_EQ(json[0]["method"], "GET");
    EXPECT_EQ(json[0]["path"], "/pay?x=1");
    EXPECT_EQ(json[0]["status"], 200);
    EXPECT_EQ(json[0]["route"], "upstream");
    EXPECT_EQ(json[0]["cluster"], "backend");
    EXPECT_EQ(json[0]["upstream"], "127.0.0.1:" + std::to_string(upstream_.port()));
    EXPECT_TRUE(json[0]["upstream_ms"].is_number());
    EXPECT_EQ(json[0]["attempts"], 1);
    EXPECT_EQ(json[0]["request_id"], "order-42");
    EXPECT_EQ(json[0]["version"], version);
    EXPECT_EQ(json[0]["client_ip"], "127.0.0.1");
    EXPECT_EQ(json[0]["bytes_sent"], proxied.data.size()) << "every byte the client got, head included";
    EXPECT_TRUE(json[0]["tls_version"].is_null());
    EXPECT_EQ(json[1]["route"], "direct");
    EXPECT_TRUE(json[1]["cluster"].is_null());
    EXPECT_TRUE(json[1]["upstream"].is_null());
    EXPECT_EQ(json[2]["status"], 502);
    EXPECT_EQ(json[2]["cluster"], "dead");
    EXPECT_EQ(json[3]["status"], 400);
    EXPECT_TRUE(json[3]["method"].is_null()) << "refused before its head was read: no method to tell";
    // A request id is always there when the request went upstream: the client's or one made for it.
    EXPECT_FALSE(json[2]["request_id"].is_null());

    const auto combined = waitForLines(logFile("access.log"), 4);
    ASSERT_EQ(combined.size(), 4u);
    const std::regex layout(R"re(^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /pay\?x=1 HTTP/1\.1" 200 (\d+) "-" "t/1" "([^"]+)"$)re");
    std::smatch match;
    ASSERT_TRUE(std::regex_match(combined[0], match, layout)) << combined[0];
    EXPECT_EQ(match[1].str(), std::to_string(proxied.data.size()));
    EXPECT_EQ(match[2].str(), version);
}

TEST_F(AccessLogTest, ARefusalAfterAKeepAliveRequestCountsOnlyItsOwnBytes) {
    config_.extra = "access_log: {path: \"" + logFile("access.json").string() + "\"}\n";
    ASSERT_TRUE(startGateway());
    // One answered request, then on the same connection a header past max_header_bytes (16k).
    const std::string first = "GET /direct HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string second = "GET /direct HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(20000, 'x') + "\r\n\r\n";
    const auto reply = rawExchange(port(), first + second);
    ASSERT_EQ(responseCount(reply.data), 2) << reply.data.substr(0, 400);
    const auto split = reply.data.find("HTTP/1.1 431");
    ASSERT_NE(split, std::string::npos) << reply.data.substr(0, 400);
    const auto lines = waitForLines(logFile("access.json"), 2);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(nlohmann::json::parse(lines[0])["bytes_sent"], split);
    EXPECT_EQ(nlohmann::json::parse(lines[1])["status"], 431);
    EXPECT_EQ(nlohmann::json::parse(lines[1])["bytes_sent"], reply.data.size() - split);
}

TEST_F(AccessLogTest, ASampleOfNoneStillLogsEveryError) {
    config_.extra = "access_log: {path: \"" + logFile("access.json").string() + "\", sample: 0}\n";
    ASSERT_TRUE(startGateway());
    for (int i = 0; i < 20; ++i) ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);
    ASSERT_EQ(httpGet(port(), "/down/x").status(), 502u);
    const auto lines = waitForLines(logFile("access.json"), 1);
    std::this_thread::sleep_for(300ms);  // nothing else is on its way
    ASSERT_EQ(linesOf(logFile("access.json")).size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(lines[0])["status"], 502);
}

TEST_F(AccessLogTest, AnApplyChangesTheLogInPlaceAndAFileItCannotOpenIsRefused) {
    config_.extra = "access_log: {path: \"" + logFile("access.json").string() + "\"}\n";
    ASSERT_TRUE(startGateway());
    const pid_t pid = gateway_.pid();
    ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);

    auto combined = gateway_.writtenConfig();
    combined.extra = "access_log: {path: \"" + logFile("access.json").string() + "\", format: combined}\n";
    auto applied = gwctl({"config", "apply", gateway_.writeFile("combined.yaml", combined.toYaml()).string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);
    auto lines = waitForLines(logFile("access.json"), 2);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].front(), '{');
    EXPECT_NE(lines[1].find("\"GET /direct HTTP/1.1\" 200"), std::string::npos) << lines[1];

    auto unopenable = gateway_.writtenConfig();
    const auto missing = gateway_.dir() / "no-such-dir" / "access.log";
    unopenable.extra = "access_log: {path: \"" + missing.string() + "\"}\n";
    auto refused = gwctl({"config", "apply", gateway_.writeFile("missing.yaml", unopenable.toYaml()).string()});
    EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
    EXPECT_NE((refused.out + refused.err).find("access_log[0].path: cannot open " + missing.string() +
                                               " for appending: No such file or directory"),
              std::string::npos)
        << refused.out << refused.err;
    // Nothing changed: the same process serves and logs on, in the applied format.
    ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);
    lines = waitForLines(logFile("access.json"), 3);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[2].front(), '1') << lines[2];
    EXPECT_EQ(gateway_.pid(), pid);
}

TEST_F(AccessLogTest, RotationByGwctlAndBySignal) {
    config_.extra = "access_log: {path: \"" + logFile("access.json").string() + "\"}\n";
    ASSERT_TRUE(startGateway());
    ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);
    ASSERT_EQ(waitForLines(logFile("access.json"), 1).size(), 1u);

    std::filesystem::rename(logFile("access.json"), logFile("access.json.1"));
    auto reopened = gwctl({"logs", "reopen"});
    ASSERT_EQ(reopened.exit_code, 0) << reopened.out << reopened.err;
    EXPECT_NE(reopened.out.find("access log: reopened 1 file"), std::string::npos) << reopened.out;
    ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);
    EXPECT_EQ(waitForLines(logFile("access.json"), 1).size(), 1u);

    std::filesystem::rename(logFile("access.json"), logFile("access.json.2"));
    ASSERT_TRUE(gateway_.signal(SIGUSR1));
    EXPECT_TRUE(eventually([&] { return gateway_.stderrText().find("received SIGUSR1") != std::string::npos; }));
    EXPECT_TRUE(eventually([&] { return std::filesystem::exists(logFile("access.json")); }));
    ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);
    EXPECT_EQ(waitForLines(logFile("access.json"), 1).size(), 1u);
    EXPECT_EQ(linesOf(logFile("access.json.1")).size(), 1u);
    EXPECT_EQ(linesOf(logFile("access.json.2")).size(), 1u);
    EXPECT_TRUE(gateway_.running()) << "SIGUSR1 does not end the process";
}

TEST_F(AccessLogTest, AFailingDiskIsCountedAndNeverWaitedFor) {
    config_.extra = "access_log: {path: /dev/full}\n";
    ASSERT_TRUE(startGateway());
    for (int i = 0; i < 50; ++i) ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);
    EXPECT_TRUE(eventually([&] {
        return metric("hotgate_access_log_lines_total", {{"path", "/dev/full"}, {"result", "dropped_write_error"}}) >= 50;
    })) << metric("hotgate_access_log_lines_total", {{"path", "/dev/full"}, {"result", "dropped_write_error"}});
    EXPECT_EQ(metric("hotgate_access_log_lines_total", {{"path", "/dev/full"}, {"result", "written"}}), 0);
}

// Across a real upgrade: the log spans both versions, one line per request answered, and the
// lines switch from the old version to the new one at the cutover.
class AccessLogUpgradeTest : public UpgradeTest {};

TEST_P(AccessLogUpgradeTest, ShowsTheSwitchWithALinePerRequest) {
    const auto path = gateway_.dir() / "access.json";
    config_.extra = "access_log: {path: \"" + path.string() + "\", fields: [time, status, version, path]}\n";
    ASSERT_TRUE(startGateway());
    const std::string old_version = httpGet(port(), "/direct").header("x-hotgate-version");
    constexpr int kSeconds = 6;
    ChildProcess load;
    ASSERT_TRUE(startLoad(load, kSeconds, 500, 20, 0));
    std::this_thread::sleep_for(1500ms);
    upgradeCycle(hotgateBBinary(), gateway_.configFile().string());
    if (HasFatalFailure()) return;
    const auto summary = finishLoad(load, kSeconds);
    EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2);
    ASSERT_TRUE(onlyOneVersionLeft()) << "the old version flushes its lines when it exits";
    const std::string new_version = httpGet(port(), "/direct").header("x-hotgate-version");
    ASSERT_NE(new_version, old_version);

    // Every request of the load, and three more: /direct before and after, and the request
    // upgradeCycle sends right after the cutover.
    const auto expected = static_cast<std::size_t>(summary.value("ok", 0)) + 3;
    std::vector<std::string> lines;
    EXPECT_TRUE(eventually([&] { return (lines = linesOf(path)).size() >= expected; }, 5s));
    EXPECT_EQ(lines.size(), expected) << "one line per answered request, none lost at the switch";
    std::map<std::string, std::size_t> by_version;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto json = nlohmann::json::parse(lines[i], nullptr, false);
        ASSERT_FALSE(json.is_discarded()) << "line " << i << " is whole JSON: " << lines[i];
        EXPECT_EQ(json.value("status", 0), 200) << lines[i];
        const std::string version = json.value("version", "");
        ++by_version[version];
    }
    EXPECT_EQ(by_version.size(), 2u);
    EXPECT_GT(by_version[old_version], 0u);
    EXPECT_GT(by_version[new_version], 0u);
    // The old version's lines come first, the new one's last; in between, the old version's
    // last requests (finished while the new one already served) may follow the new one's first.
    EXPECT_EQ(nlohmann::json::parse(lines.front()).value("version", ""), old_version);
    EXPECT_EQ(nlohmann::json::parse(lines.back()).value("version", ""), new_version);
}

INSTANTIATE_TEST_SUITE_P(Modes, AccessLogUpgradeTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

// The process lifecycle: --check-config and --version, config errors as FILE:LINE: message
// with exit 1, and SIGTERM draining in-flight requests before exit 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

// Line numbers (1-based) at which `file:LINE: ` error lines appear in `err`.
std::set<int> errorLines(const std::string& err, const std::string& file) {
    std::set<int> lines;
    std::istringstream in(err);
    std::string line;
    std::regex pattern("^" + std::regex_replace(file, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                       R"(:(\d+): \S.*)");
    std::smatch m;
    while (std::getline(in, line))
        if (std::regex_search(line, m, pattern)) lines.insert(std::stoi(m[1]));
    return lines;
}

class LifecycleTest : public GatewayFixture {
protected:
    // A valid config whose text a case then breaks; line numbers below refer to this layout.
    std::string validConfig() {
        return "workers: 1\n"                                                    // 1
               "admin: { address: 127.0.0.1:" + std::to_string(config_.admin_port) + " }\n"  // 2
               "listeners:\n"                                                    // 3
               "  - { name: public, address: 127.0.0.1:" + std::to_string(config_.listen_port) + " }\n"  // 4
               "limits: { max_header_bytes: 16k, max_body_bytes: 10MB, max_connections: 100 }\n"  // 5
               "timeouts: { header_read: 10s, idle: 60s, upstream_connect: 2s, upstream_response: 30s, drain: 15s }\n"  // 6
               "routes:\n"                                                       // 7
               "  - name: api\n"                                                 // 8
               "    match: { path_prefix: /api/ }\n"                             // 9
               "    cluster: backend\n"                                          // 10
               "  - name: hello\n"                                               // 11
               "    match: { path_prefix: / }\n"                                 // 12
               "    direct_response: { status: 200, body: \"hello\\n\" }\n"      // 13
               "clusters:\n"                                                     // 14
               "  - name: backend\n"                                             // 15
               "    endpoints: [" + upstream_.address() + "]\n"                  // 16
               "    max_idle_per_endpoint: 64\n";                                // 17
    }

    // Replaces line `n` (1-based) of `text` with `replacement` (which may hold several lines).
    static std::string withLine(const std::string& text, int n, const std::string& replacement) {
        std::istringstream in(text);
        std::string out, line;
        for (int i = 1; std::getline(in, line); ++i) out += (i == n ? replacement : line) + "\n";
        return out;
    }

    static std::string appended(const std::string& text, const std::string& extra) { return text + extra; }
};

TEST_F(LifecycleTest, CheckConfigAcceptsAValidFile) {
    auto file = gateway_.writeFile("good.yaml", validConfig());
    auto r = runCommand({hotgateBinary(), "--check-config", file.string()}, gateway_.dir());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(std::regex_search(r.out, std::regex("config ok: " + file.string() + R"( \(hash [^)\s]+\))")))
        << "stdout: " << r.out << "\nstderr: " << r.err;
}

TEST_F(LifecycleTest, CheckConfigAcceptsTheShippedDefault) {
    std::string file = std::string(HOTGATE_SOURCE_DIR) + "/configs/default.yaml";
    auto r = runCommand({hotgateBinary(), "--check-config", file}, gateway_.dir());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("config ok: " + file), std::string::npos) << r.out;
}

TEST_F(LifecycleTest, ConfigHashFollowsContent) {
    auto a = gateway_.writeFile("a.yaml", validConfig());
    auto b = gateway_.writeFile("b.yaml", withLine(validConfig(), 17, "    max_idle_per_endpoint: 32"));
    auto ra = runCommand({hotgateBinary(), "--check-config", a.string()}, gateway_.dir());
    auto rb = runCommand({hotgateBinary(), "--check-config", b.string()}, gateway_.dir());
    ASSERT_EQ(ra.exit_code, 0) << ra.err;
    ASSERT_EQ(rb.exit_code, 0) << rb.err;
    std::smatch ma, mb;
    std::regex hash(R"(\(hash ([^)\s]+)\))");
    ASSERT_TRUE(std::regex_search(ra.out, ma, hash)) << ra.out;
    ASSERT_TRUE(std::regex_search(rb.out, mb, hash)) << rb.out;
    EXPECT_NE(ma[1].str(), mb[1].str());
}

struct BadConfigCase {
    std::string name;
    int line;                       // line to replace, or 0 to append `text`
    std::string text;
    std::set<int> acceptable_lines;  // any of these is a right FILE:LINE
};

TEST_F(LifecycleTest, InvalidConfigsAreRejectedWithFileAndLine) {
    const std::vector<BadConfigCase> cases = {
        {"unknown top-level key", 0, "colour: blue\n", {18}},
        {"unknown key in a route", 9, "    match: { path_prefix: /api/ }\n    retries: 3", {10}},
        {"wrong type", 1, "workers: many", {1}},
        {"duplicate route name", 11, "  - name: api", {11}},
        {"duplicate listener name", 4,
         "  - { name: public, address: 127.0.0.1:1 }\n  - { name: public, address: 127.0.0.1:2 }", {5}},
        {"duplicate cluster name", 0, "  - name: backend\n    endpoints: [127.0.0.1:1]\n", {18}},
        {"unknown cluster", 10, "    cluster: nowhere", {8, 10}},
        {"cluster and direct response", 10,
         "    cluster: backend\n    direct_response: { status: 200, body: x }", {8, 10, 11}},
        {"neither cluster nor direct response", 13, "", {11}},
        {"address without port", 16, "    endpoints: [127.0.0.1]", {16}},
        {"port out of range", 4, "  - { name: public, address: 127.0.0.1:70000 }", {4}},
        {"plain integer duration", 6,
         "timeouts: { header_read: 10, idle: 60s, upstream_connect: 2s, upstream_response: 30s, drain: 15s }", {6}},
        {"bad size unit", 5, "limits: { max_header_bytes: 16q, max_body_bytes: 10MB, max_connections: 100 }", {5}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        std::string text = c.line == 0 ? appended(validConfig(), c.text) : withLine(validConfig(), c.line, c.text);
        auto file = gateway_.writeFile("bad.yaml", text);
        auto check = runCommand({hotgateBinary(), "--check-config", file.string()}, gateway_.dir());
        EXPECT_EQ(check.exit_code, 1) << "stdout: " << check.out << "\nstderr: " << check.err << "\nconfig:\n" << text;
        auto lines = errorLines(check.err, file.string());
        EXPECT_FALSE(lines.empty()) << "no " << file.string() << ":LINE: message on stderr:\n" << check.err;
        bool right_line = false;
        for (int l : lines) right_line = right_line || c.acceptable_lines.count(l) > 0;
        EXPECT_TRUE(right_line) << "stderr:\n" << check.err << "\nconfig:\n" << text;
    }
}

TEST_F(LifecycleTest, EveryProblemGetsItsOwnLine) {
    std::string text = withLine(withLine(validConfig(), 1, "workers: many"), 16, "    endpoints: [nohost]");
    auto file = gateway_.writeFile("two.yaml", text);
    auto check = runCommand({hotgateBinary(), "--check-config", file.string()}, gateway_.dir());
    EXPECT_EQ(check.exit_code, 1);
    auto lines = errorLines(check.err, file.string());
    EXPECT_TRUE(lines.count(1) && lines.count(16)) << "stderr:\n" << check.err;
}

TEST_F(LifecycleTest, RunningWithAnInvalidConfigExitsOneWithFileAndLine) {
    auto file = gateway_.writeFile("bad.yaml", appended(validConfig(), "colour: blue\n"));
    auto r = runCommand({hotgateBinary(), "--config", file.string()}, gateway_.dir());
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(errorLines(r.err, file.string()), std::set<int>{18}) << r.err;
    EXPECT_FALSE(canConnect(config_.listen_port, 200ms));
}

TEST_F(LifecycleTest, MissingConfigFileFails) {
    auto missing = gateway_.dir() / "missing.yaml";
    auto r = runCommand({hotgateBinary(), "--check-config", missing.string()}, gateway_.dir());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(missing.string()), std::string::npos) << r.err;
}

TEST_F(LifecycleTest, VersionMatchesWhatTheProcessReports) {
    auto v = runCommand({hotgateBinary(), "--version"}, gateway_.dir());
    ASSERT_EQ(v.exit_code, 0) << v.err;
    ASSERT_TRUE(startGateway());
    auto r = httpGet(adminPort(), "/status");
    ASSERT_TRUE(r.ok()) << r.error();
    auto status = nlohmann::json::parse(r.response.body(), nullptr, false);
    ASSERT_FALSE(status.is_discarded()) << r.response.body();
    std::string build = status.value("build_version", "");
    ASSERT_FALSE(build.empty());
    EXPECT_NE(v.out.find(build), std::string::npos) << "--version printed: " << v.out;
}

TEST_F(LifecycleTest, SigtermFinishesInFlightResponseThenExitsZero) {
    config_.drain = "10s";
    ASSERT_TRUE(startGateway());
    HttpClient idle(port());
    auto warmup = idle.get("/warmup");
    ASSERT_TRUE(warmup.ok()) << warmup.error();

    auto in_flight = std::async(std::launch::async, [p = port()] {
        HttpClient client(p, 20s);
        return client.get("/slow?ms=1500");
    });
    ASSERT_TRUE(eventually([&] {
        auto last = upstream_.lastRequest();
        return last && last->target == "/slow?ms=1500";
    })) << "the slow request never reached the upstream";

    auto sent = std::chrono::steady_clock::now();
    ASSERT_TRUE(gateway_.signal(SIGTERM));

    EXPECT_TRUE(eventually([&] { return !canConnect(port(), 200ms); }, 3s))
        << "the listener still accepts connections after SIGTERM";
    EXPECT_TRUE(idle.peerClosed(5s)) << "the idle keep-alive connection was not closed";

    ASSERT_EQ(in_flight.wait_for(20s), std::future_status::ready);
    auto slow = in_flight.get();
    ASSERT_TRUE(slow.ok()) << "in-flight request lost: " << slow.error() << "\nstderr:\n" << gateway_.stderrText();
    EXPECT_EQ(slow.status(), 200u);
    EXPECT_EQ(slow.response.body(), "slow\n");
    EXPECT_FALSE(slow.response.keep_alive()) << "the drained response should carry Connection: close";

    auto code = gateway_.waitExit(15s);
    ASSERT_TRUE(code.has_value()) << "still running 15 s after SIGTERM (drain is 10 s)";
    EXPECT_EQ(*code, 0) << gateway_.stderrText();
    EXPECT_LT(std::chrono::steady_clock::now() - sent, 12s);
}

TEST_F(LifecycleTest, SigtermWithNothingInFlightExitsPromptly) {
    config_.drain = "10s";
    ASSERT_TRUE(startGateway());
    ASSERT_TRUE(httpGet(port(), "/x").ok());
    ASSERT_TRUE(gateway_.signal(SIGTERM));
    auto code = gateway_.waitExit(5s);
    ASSERT_TRUE(code.has_value()) << "an idle gateway took over 5 s to stop";
    EXPECT_EQ(*code, 0) << gateway_.stderrText();
}

TEST_F(LifecycleTest, SigtermGivesUpOnStuckRequestsAfterDrainTimeout) {
    config_.drain = "1s";
    ASSERT_TRUE(startGateway());
    auto stuck = std::async(std::launch::async, [p = port()] {
        HttpClient client(p, 30s);
        return client.get("/slow?ms=20000");
    });
    ASSERT_TRUE(eventually([&] { return upstream_.requestHeadersSeen() >= 1; }));
    ASSERT_TRUE(gateway_.signal(SIGTERM));
    auto code = gateway_.waitExit(8s);
    ASSERT_TRUE(code.has_value()) << "still running 8 s after SIGTERM with a 1 s drain";
    EXPECT_EQ(*code, 0) << gateway_.stderrText();
    ASSERT_EQ(stuck.wait_for(10s), std::future_status::ready);
    auto r = stuck.get();
    EXPECT_FALSE(r.ok() && r.status() == 200u) << "the stuck request cannot have completed";
}

}  // namespace
}  // namespace hotgate::test

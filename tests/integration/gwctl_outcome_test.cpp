// gwctl's exit statuses and --output json (docs/operations.md "gwctl at a glance"): every verb
// that talks to a gateway nobody runs exits 3 with the socket or address it tried; malformed
// durations exit 2; and the commands that print state print one JSON document with -o json.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class GwctlOutcomeTest : public GatewayFixture {};

TEST_F(GwctlOutcomeTest, EveryVerbExitsThreeWhenNoHotgateAnswers) {
    const auto dir = gateway_.dir();
    const std::string socket = (dir / "nobody.sock").string();
    const std::string admin = "127.0.0.1:" + std::to_string(down_port_);
    const auto config = gateway_.writeFile("any.yaml", config_.toYaml()).string();
    const std::vector<std::vector<std::string>> verbs = {
        {"commit"},
        {"rollback"},
        {"cutover"},
        {"certs", "reload"},
        {"tls", "rotate-ticket-key"},
        {"logs", "reopen"},
        {"config", "apply", config},
        {"config", "history"},
        {"config", "diff", config, "--against", "running"},
        {"verify", "--samples", "1"},
        {"upgrade", "--binary", hotgateBinary()},
        {"status"},
        {"top", "--once"},
    };
    for (const auto& verb : verbs) {
        std::vector<std::string> argv{gwctlBinary(), "--control", socket, "--admin", admin};
        argv.insert(argv.end(), verb.begin(), verb.end());
        const auto result = runCommand(argv, dir, 30s);
        SCOPED_TRACE(verb.front() + (verb.size() > 1 ? " " + verb[1] : ""));
        EXPECT_EQ(result.exit_code, 3) << result.out << result.err;
        const bool names_where = result.err.find("no hotgate answers on " + socket) != std::string::npos ||
                                 result.err.find("cannot reach hotgate admin at " + admin) != std::string::npos;
        EXPECT_TRUE(names_where) << result.err;
    }
}

TEST_F(GwctlOutcomeTest, MalformedDurationsAndOutputsExitTwo) {
    ASSERT_TRUE(startGateway());
    for (const auto& args : std::vector<std::vector<std::string>>{{"verify", "--timeout", "soon"},
                                                                 {"top", "--interval", "fast"},
                                                                 {"upgrade", "--binary", hotgateBinary(), "--timeout", "x"},
                                                                 {"status", "--output", "xml"}}) {
        const auto result = gwctl(args);
        SCOPED_TRACE(args.front());
        EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
        EXPECT_FALSE(result.err.empty());
    }
    EXPECT_EQ(httpGet(port(), "/direct").status(), 200u) << "nothing changed";
}

TEST_F(GwctlOutcomeTest, OutputJsonPrintsOneDocument) {
    config_.extra = "access_log: {path: \"" + (gateway_.dir() / "access.log").string() + "\"}\n";
    ASSERT_TRUE(startGateway());
    ASSERT_EQ(httpGet(port(), "/direct").status(), 200u);
    const auto parsed = [&](std::vector<std::string> args) {
        const auto result = gwctl(std::move(args));
        EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
        auto json = nlohmann::json::parse(result.out, nullptr, false);
        EXPECT_FALSE(json.is_discarded()) << "not one JSON document:\n" << result.out;
        return json;
    };
    const auto status = parsed({"--output", "json", "status"});
    EXPECT_EQ(status.value("pid", 0), gateway_.pid());
    const auto history = parsed({"config", "history", "-o", "json"});
    EXPECT_TRUE(history.is_object() || history.is_array()) << history.dump();
    const auto reopened = parsed({"logs", "reopen", "-o", "json"});
    EXPECT_EQ(reopened.value("files", -1), 1) << reopened.dump();
    const auto dataplane = parsed({"dataplane", "-o", "json"});
    EXPECT_TRUE(dataplane.contains("bpffs_root")) << dataplane.dump();
    EXPECT_TRUE(dataplane.contains("xdp_front")) << dataplane.dump();
}

}  // namespace
}  // namespace hotgate::test

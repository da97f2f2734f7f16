// gwctl verify (docs/verification.md): while a new version is ready, the running version
// mirrors sampled live requests to both versions over loopback shadow paths and compares their
// answers; cutover --verify refuses a version that answers differently unless --force; after a
// rollback, verify --replay checks the restored version against its own recorded answers.
#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

#include "protection_fixture.h"
#include "support/otlp_receiver.h"
#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

// The test's verify settings: latency on a loaded 2-core machine is compared in the unit tests.
const std::string kVerifyConfig = "upgrade:\n  verify:\n    headers: [content-type]\n    latency_floor: 500ms\n";

// A client sending requests round-robin from `plan` (method, target) every few ms on one
// keep-alive connection until stop(), at most 6000; counts what it sent and what failed.
class Traffic {
public:
    Traffic(std::uint16_t port, std::vector<std::pair<std::string, std::string>> plan)
        : thread_([this, port, plan = std::move(plan)] {
              HttpClient client(port, 5s);
              for (int i = 0; !stop_ && i < 6000; ++i) {
                  const auto& [method, target] = plan[static_cast<std::size_t>(i) % plan.size()];
                  const auto result =
                      method == "POST" ? client.post(target, "order " + std::to_string(i)) : client.get(target);
                  std::lock_guard lock(mutex_);
                  ++sent_[method];
                  if (!result.ok() || result.status() >= 500) {
                      ++failed_;
                      last_failure_ = result.ok() ? std::to_string(result.status()) + " " + result.response.body()
                                                  : result.error();
                  }
                  std::this_thread::sleep_for(5ms);
              }
          }) {}
    ~Traffic() { stop(); }

    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    int sent(const std::string& method) {
        std::lock_guard lock(mutex_);
        return sent_[method];
    }
    int failed() {
        std::lock_guard lock(mutex_);
        return failed_;
    }
    std::string lastFailure() {
        std::lock_guard lock(mutex_);
        return last_failure_;
    }

private:
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::map<std::string, int> sent_;
    int failed_ = 0;
    std::string last_failure_;
    std::thread thread_;
};

class ShadowVerifyTest : public UpgradeTest {
protected:
    void SetUp() override {
        UpgradeTest::SetUp();
        config_.extra = kVerifyConfig;
    }

    // Starts the successor (binary B) with `config_file` and waits until it is ready.
    void upgradeToReady(const std::string& config_file) {
        auto upgraded = upgrade(hotgateBBinary(), config_file);
        ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    }
};

TEST_P(ShadowVerifyTest, AVersionThatAnswersAlikeVerifiesAndCutsOver) {
    GatewayConfig::Route orders{"orders", "{ path_prefix: /orders/ }", "backend", 0, ""};
    orders.extra = "    shadow: true\n";
    config_.routes.insert(config_.routes.begin(), orders);
    ASSERT_TRUE(startGateway());
    Traffic traffic(port(), {{"GET", "/page"}, {"POST", "/orders/1"}});
    upgradeToReady(gateway_.configFile().string());
    if (HasFatalFailure()) return;

    auto verified = gwctl({"verify", "--samples", "20", "--timeout", "20s"});
    std::cout << verified.out;
    EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
    EXPECT_NE(verified.out.find("20 of 20 samples, 0 mismatched"), std::string::npos) << verified.out;
    EXPECT_NE(verified.out.find("\norders "), std::string::npos) << "POSTs of the shadow route, dry run:\n" << verified.out;
    EXPECT_NE(verified.out.find("\nupstream "), std::string::npos) << verified.out;

    auto cut = gwctl({"cutover", "--verify", "10"});
    ASSERT_EQ(cut.exit_code, 0) << cut.out << cut.err;
    EXPECT_NE(cut.out.find("10 of 10 samples, 0 mismatched"), std::string::npos) << cut.out;
    std::this_thread::sleep_for(300ms);
    gateway_.expectExit();
    auto committed = gwctl({"commit"});
    ASSERT_EQ(committed.exit_code, 0) << committed.out << committed.err;
    ASSERT_TRUE(onlyOneVersionLeft());
    traffic.stop();

    EXPECT_EQ(traffic.failed(), 0) << traffic.lastFailure();
    const int posts = traffic.sent("POST");
    EXPECT_GT(posts, 15);
    EXPECT_EQ(upstream_.requestsTo("/orders/"), static_cast<std::uint64_t>(posts))
        << "every POST reached the upstream once: a mirrored one never goes upstream";
    EXPECT_GE(upstream_.requestsTo("/page"), static_cast<std::uint64_t>(traffic.sent("GET")) + 20)
        << "mirrored GETs went upstream, from both versions";
}

TEST_P(ShadowVerifyTest, ADifferentAnswerRefusesTheCutoverAndReplayChecksTheRollback) {
    OtlpReceiver receiver;
    ASSERT_NE(receiver.port(), 0);
    config_.extra += "telemetry:\n  otlp: { endpoint: \"" + receiver.endpoint() + "\" }\n";
    ASSERT_TRUE(startGateway());
    GatewayConfig changed = gateway_.writtenConfig();  // with its pin root
    changed.routes[0].direct_body = "changed\n";  // the route `direct`
    const auto changed_file = gateway_.writeFile("changed.yaml", changed.toYaml()).string();
    Traffic traffic(port(), {{"GET", "/direct"}, {"GET", "/page"}});
    upgradeToReady(changed_file);
    if (HasFatalFailure()) return;

    auto verified = gwctl({"verify", "--samples", "5", "--routes", "direct"});
    std::cout << verified.out << verified.err;
    EXPECT_EQ(verified.exit_code, 1) << verified.out << verified.err;
    EXPECT_NE(verified.err.find("5 of 5 samples mismatched"), std::string::npos) << verified.err;
    EXPECT_NE(verified.out.find("mismatch: GET /direct (direct): body "), std::string::npos) << verified.out;

    auto refused = gwctl({"cutover", "--verify", "3"});
    EXPECT_NE(refused.exit_code, 0) << refused.out;
    EXPECT_NE(refused.err.find("refused"), std::string::npos) << refused.err;
    EXPECT_EQ(controlStatus().value("upgrade_state", ""), "ready") << "nothing was cut over";
    EXPECT_EQ(httpGet(port(), "/direct").response.body(), "direct\n");

    auto forced = gwctl({"cutover", "--verify", "3", "--routes", "direct", "--force"});
    ASSERT_EQ(forced.exit_code, 0) << forced.out << forced.err;
    EXPECT_EQ(httpGet(port(), "/direct").response.body(), "changed\n");
    auto rolled = gwctl({"rollback"});
    ASSERT_EQ(rolled.exit_code, 0) << rolled.out << rolled.err;
    EXPECT_EQ(httpGet(port(), "/direct").response.body(), "direct\n");

    auto replayed = gwctl({"verify", "--replay"});
    std::cout << replayed.out;
    EXPECT_EQ(replayed.exit_code, 0) << replayed.out << replayed.err;
    EXPECT_NE(replayed.out.find("'s recorded answers: 3 of 3 samples, 0 mismatched"), std::string::npos)
        << replayed.out;

    // The restored version changes its answer after all (an apply in place): the replay says so.
    GatewayConfig again = gateway_.writtenConfig();
    again.routes[0].direct_body = "again\n";
    auto applied = gwctl({"config", "apply", gateway_.writeFile("again.yaml", again.toYaml()).string()});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    auto differs = gwctl({"verify", "--replay"});
    EXPECT_EQ(differs.exit_code, 1) << differs.out << differs.err;
    EXPECT_NE(differs.out.find("mismatch: GET /direct (direct): body "), std::string::npos) << differs.out;
    traffic.stop();
    EXPECT_EQ(traffic.failed(), 0) << traffic.lastFailure();

    // Each verification of the ready version is a span of the upgrade's trace, which ended
    // (its root exported) at the rollback.
    auto count = [&](const std::string& name) {
        const auto spans = receiver.spans();
        return std::count_if(spans.begin(), spans.end(), [&](const ReceivedSpan& s) { return s.name == name; });
    };
    ASSERT_TRUE(eventually([&] { return count("hot-update") == 1 && count("hot-update:shadow-verify") == 3; }, 20s))
        << receiver.spanTree();
    std::cout << receiver.spanTree();
    std::map<std::string, std::string> names;  // span id -> name
    std::vector<ReceivedSpan> verifies;
    for (const auto& span : receiver.spans()) {
        names[span.span_id] = span.name;
        if (span.name == "hot-update:shadow-verify") verifies.push_back(span);
    }
    ASSERT_EQ(verifies.size(), 3u) << receiver.spanTree();
    for (const auto& span : verifies) {
        EXPECT_EQ(names[span.parent_span_id], "hot-update") << receiver.spanTree();
        EXPECT_EQ(span.parent_span_id, verifies[0].parent_span_id) << "all three in the one upgrade's trace";
        EXPECT_EQ(span.status_code, 2) << "every one found /direct answering differently";
        EXPECT_GE(std::stoi(span.attribute("mismatches")), 1);
    }
    const auto first = std::min_element(verifies.begin(), verifies.end(), [](const auto& a, const auto& b) {
        return a.start_unix_nanos < b.start_unix_nanos;
    });
    EXPECT_EQ(first->attribute("samples"), "5");
    EXPECT_EQ(first->attribute("mismatches"), "5");
}

TEST_P(ShadowVerifyTest, MirroredRequestsSpendNoRateLimitAndCountInNoMetric) {
    // A bucket of 20 that refills one token in 1000 s: the client may send exactly 20.
    addRoute(config_, "limited", "    rate_limit: {requests_per_second: 0.001, burst: 20, key: route}\n");
    ASSERT_TRUE(startGateway());
    upgradeToReady(gateway_.configFile().string());
    if (HasFatalFailure()) return;
    std::atomic<bool> verified_done{false};
    CommandResult verified;
    std::thread verify([&] {
        verified = gwctl({"verify", "--samples", "5", "--routes", "limited"});
        verified_done = true;
    });
    int sent = 0;
    int admitted = 0;
    HttpClient client(port());
    // Requests while the verification samples them (at most 15: the bucket holds 20).
    while (!verified_done && sent < 15) {
        admitted += client.get("/limited/" + std::to_string(sent++)).status() == 200;
        std::this_thread::sleep_for(100ms);
    }
    verify.join();
    EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
    EXPECT_NE(verified.out.find("5 of 5 samples, 0 mismatched"), std::string::npos) << verified.out;
    // Ten mirrored requests (five, to both versions) would have taken ten of the 20 tokens.
    while (sent < 20) admitted += client.get("/limited/after" + std::to_string(sent++)).status() == 200;
    EXPECT_EQ(admitted, 20);
    EXPECT_EQ(client.get("/limited/over").status(), 429u) << "the bucket is empty now, and only now";
    EXPECT_TRUE(eventually(
        [&] { return sumSamples(metrics(), "hotgate_http_requests_total", {{"route", "limited"}}) == 21; }, 5s))
        << sumSamples(metrics(), "hotgate_http_requests_total", {{"route", "limited"}});
}

// SIGTERM while gwctl verify waits for samples that do not come: the version still stops
// within its drain, not after the verification's timeout.
TEST_P(ShadowVerifyTest, StoppingTheRunningVersionEndsAVerificationInProgress) {
    ASSERT_TRUE(startGateway());
    upgradeToReady(gateway_.configFile().string());
    if (HasFatalFailure()) return;
    CommandResult verified;
    std::thread verify([&] { verified = gwctl({"verify", "--samples", "50", "--timeout", "60s"}); });
    std::this_thread::sleep_for(500ms);
    gateway_.expectExit();
    const auto stopped_at = std::chrono::steady_clock::now();
    ASSERT_EQ(::kill(gateway_.pid(), SIGTERM), 0);
    const auto code = gateway_.waitExit(30s);
    const auto took = std::chrono::steady_clock::now() - stopped_at;
    verify.join();
    ASSERT_TRUE(code.has_value()) << "still running 30 s after SIGTERM";
    EXPECT_LT(took, 10s) << "it waited for the verification";
    EXPECT_NE(verified.exit_code, 0) << verified.out;
}

TEST_P(ShadowVerifyTest, RefusesWhatItCannotDoAndKeepsServing) {
    ASSERT_TRUE(startGateway());
    // Refused by the running version: 1; a malformed duration is a usage error: 2.
    auto not_ready = gwctl({"verify", "--samples", "3"});
    EXPECT_EQ(not_ready.exit_code, 1) << not_ready.out;
    EXPECT_NE(not_ready.err.find("no new version is ready (upgrade state: none)"), std::string::npos) << not_ready.err;
    auto nothing = gwctl({"verify", "--replay"});
    EXPECT_EQ(nothing.exit_code, 1);
    EXPECT_NE(nothing.err.find("no recorded samples to replay"), std::string::npos) << nothing.err;
    auto unknown = gwctl({"verify", "--routes", "upstream,nosuch"});
    EXPECT_EQ(unknown.exit_code, 1);
    EXPECT_NE(unknown.err.find("no route named 'nosuch' (routes: direct, down, upstream)"), std::string::npos)
        << unknown.err;
    auto bad_timeout = gwctl({"verify", "--timeout", "soon"});
    EXPECT_EQ(bad_timeout.exit_code, 2);
    EXPECT_NE(bad_timeout.err.find("--timeout 'soon' is not a duration"), std::string::npos) << bad_timeout.err;
    auto zero = gwctl({"verify", "--samples", "0"});
    EXPECT_NE(zero.exit_code, 0);
    EXPECT_NE(zero.err.find("--samples"), std::string::npos) << zero.err;
    auto cut = gwctl({"cutover", "--verify", "2"});
    EXPECT_NE(cut.exit_code, 0);
    EXPECT_NE(cut.err.find("no new version is ready"), std::string::npos) << cut.err;
    EXPECT_EQ(httpGet(port(), "/page").status(), 200u);
}

INSTANTIATE_TEST_SUITE_P(Modes, ShadowVerifyTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

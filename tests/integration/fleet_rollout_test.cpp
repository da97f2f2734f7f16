// Rolling a fleet config out in waves (docs/fleet.md, "Rollouts") over three hosts and a real
// etcd: while a wave runs only its hosts serve the candidate; each wave waits until its hosts
// serve it for the gate; at the end the candidate becomes <prefix>/config. A candidate that the
// second wave refuses, or fails the config engine's verification on, rolls the first wave back
// too, and <prefix>/config never changes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleet/etcd_client.h"
#include "fleet/rollout.h"
#include "gateway_fixture.h"
#include "support/etcd_server.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPrefix = "/rollout-test";

class FleetRolloutTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        std::string error;
        ASSERT_TRUE(etcd_.start(gateway_.dir(), error)) << error;
        putConfig(fleetDocument("v1\n"));
        for (int i = 1; i <= 3; ++i) {
            GatewayConfig host = defaultGatewayConfig(pickFreePort(), pickFreePort(), upstream_.port(), down_port_);
            host.host_part_only = true;
            const auto state = gateway_.dir() / ("h" + std::to_string(i));
            std::filesystem::create_directories(state);
            host.extra = "config_source:\n  etcd:\n    endpoints: [\"" + etcd_.url() + "\"]\n    prefix: " + kPrefix +
                         "\n    host_id: h" + std::to_string(i) + "\n    last_good: \"" +
                         (state / "last-good.yaml").string() + "\"\n";
            // h2 and h3 keep a section of their own, so a candidate that sets it is refused there.
            if (i > 1) host.extra += "health:\n  enabled: false\n";
            auto process = std::make_unique<GatewayProcess>();
            ASSERT_TRUE(process->start(host));
            ports_.push_back(host.listen_port);
            hosts_.push_back(std::move(process));
        }
        for (std::size_t i = 0; i < ports_.size(); ++i) ASSERT_EQ(body(i), "v1\n");
    }
    void TearDown() override {
        for (auto& host : hosts_) host->signal(SIGTERM);
        for (auto& host : hosts_) host->waitExit(30s);
        GatewayFixture::TearDown();
        etcd_.stop();
    }

    // The fleet's part: config_ with a /fleet route answering `answer`, verified for `window`.
    std::string fleetDocument(const std::string& answer, const GatewayConfig* base = nullptr,
                              const std::string& window = "1s") const {
        GatewayConfig shared = base ? *base : config_;
        shared.routes.insert(shared.routes.begin(), {.name = "fleet", .match = "{ path: /fleet }", .direct_body = answer});
        return shared.sharedPart() + "config_engine:\n  verification_window: " + window + "\n  min_requests: 20\n";
    }
    void putConfig(const std::string& text) {
        fleet::EtcdClient client({etcd_.url()});
        ASSERT_TRUE(client.put(std::string(kPrefix) + "/config", text));
    }
    std::string fleetConfig() {
        fleet::EtcdClient client({etcd_.url()});
        auto read = client.get(std::string(kPrefix) + "/config");
        return read && read->kv ? read->kv->value : std::string();
    }
    std::string body(std::size_t host) {
        auto result = httpGet(ports_[host], "/fleet");
        return result.ok() ? result.response.body() : "(" + result.error() + ")";
    }
    std::vector<std::string> gwctlFleet(std::vector<std::string> args) {
        std::vector<std::string> argv{gwctlBinary(), "fleet"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"--etcd", etcd_.url(), "--prefix", kPrefix});
        return argv;
    }

    EtcdServer etcd_;
    std::vector<std::unique_ptr<GatewayProcess>> hosts_;
    std::vector<std::uint16_t> ports_;
};

TEST_F(FleetRolloutTest, WavesServeTheCandidateInTurnThenItBecomesTheFleetConfig) {
    const auto candidate = gateway_.writeFile("v2.yaml", fleetDocument("v2\n"));
    ChildProcess rollout;
    std::string error;
    ASSERT_TRUE(rollout.start(gwctlFleet({"rollout", "--config", candidate.string(), "--waves", "1,100%", "--gate",
                                          "2s", "--timeout", "20s"}),
                              gateway_.dir() / "rollout.out", gateway_.dir() / "rollout.err", error))
        << error;
    // The first wave (h1) serves the candidate while the others keep the fleet's config.
    ASSERT_TRUE(eventually([&] { return body(0) == "v2\n"; }, 10s)) << rollout.readStderr();
    EXPECT_EQ(body(1), "v1\n");
    EXPECT_EQ(body(2), "v1\n");
    ASSERT_EQ(rollout.waitExit(40s).value_or(-1), 0) << rollout.readStdout() << rollout.readStderr();
    EXPECT_NE(rollout.readStdout().find("wave 1/2: h1"), std::string::npos) << rollout.readStdout();
    EXPECT_NE(rollout.readStdout().find("wave 2/2: h2 h3"), std::string::npos) << rollout.readStdout();
    for (std::size_t i = 0; i < ports_.size(); ++i) EXPECT_EQ(body(i), "v2\n") << "host h" << i + 1;
    EXPECT_EQ(fleetConfig(), fleetDocument("v2\n"));
    const auto status = runCommand(gwctlFleet({"status"}), gateway_.dir(), 15s);
    EXPECT_EQ(status.exit_code, 0) << status.err;
    for (const char* host : {"h1", "h2", "h3"}) EXPECT_NE(status.out.find(host), std::string::npos) << status.out;
    EXPECT_EQ(status.out.find("behind"), std::string::npos) << status.out;
}

TEST_F(FleetRolloutTest, ACandidateTheSecondWaveRefusesRollsTheFirstBackToo) {
    // h2 and h3 set health themselves: they refuse a candidate that sets it; h1 takes it.
    const auto candidate =
        gateway_.writeFile("v3.yaml", fleetDocument("v3\n") + "health:\n  enabled: true\n");
    const auto result = runCommand(gwctlFleet({"rollout", "--config", candidate.string(), "--waves", "1,100%",
                                               "--gate", "1s", "--timeout", "20s"}),
                                   gateway_.dir(), 60s);
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    EXPECT_NE(result.err.find("refused the candidate"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("health is set both here and in"), std::string::npos) << result.err;
    // Every host is back on the fleet's config, which never changed.
    for (std::size_t i = 0; i < ports_.size(); ++i)
        EXPECT_TRUE(eventually([&] { return body(i) == "v1\n"; }, 10s)) << "host h" << i + 1 << ": " << body(i);
    EXPECT_EQ(fleetConfig(), fleetDocument("v1\n"));
    fleet::EtcdClient client({etcd_.url()});
    auto record = client.get(fleet::rolloutKey(kPrefix));
    ASSERT_TRUE(record && record->kv);
    auto rollout = fleet::Rollout::fromJson(record->kv->value);
    ASSERT_TRUE(rollout);
    EXPECT_EQ(rollout->state, fleet::RolloutState::RolledBack);
    // Nothing runs now: a rollback by hand says so; a bad wave list is a usage error.
    const auto nothing = runCommand(gwctlFleet({"rollback"}), gateway_.dir(), 15s);
    EXPECT_EQ(nothing.exit_code, 1) << nothing.out << nothing.err;
    EXPECT_NE(nothing.err.find("no rollout is running"), std::string::npos) << nothing.err;
    const auto bad = runCommand(gwctlFleet({"rollout", "--config", candidate.string(), "--waves", "1,50%"}),
                                gateway_.dir(), 15s);
    EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
    EXPECT_NE(bad.err.find("end it with 100%"), std::string::npos) << bad.err;
}

TEST_F(FleetRolloutTest, ACandidateTheSecondWaveFailsVerificationOnRollsTheFirstBackToo) {
    // Traffic reaches h2 and h3 only: the candidate sends the catch-all route where nothing
    // listens, which their verification sees as a 5xx rise; h1, without traffic, verifies it.
    std::atomic<bool> done{false};
    std::atomic<int> answers{0};
    std::vector<std::thread> clients;
    for (std::size_t host : {1, 2})
        clients.emplace_back([&, host] {
            HttpClient client(ports_[host]);
            for (int i = 0; i < 20000 && !done; ++i) {  // bounded: about 60 s
                (void)client.get("/api");
                ++answers;
                std::this_thread::sleep_for(3ms);
            }
        });
    auto bad = config_;
    bad.routes[2].cluster = "dead";
    const auto candidate = gateway_.writeFile("v4.yaml", fleetDocument("v4\n", &bad, "4s"));
    const auto result = runCommand(gwctlFleet({"rollout", "--config", candidate.string(), "--waves", "1,100%",
                                               "--gate", "1s", "--timeout", "20s"}),
                                   gateway_.dir(), 60s);
    done = true;
    for (auto& client : clients) client.join();
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    EXPECT_NE(result.out.find("wave 1 healthy"), std::string::npos) << result.out;
    EXPECT_NE(result.err.find("failed verification: rolled back: 5xx share"), std::string::npos) << result.err;
    EXPECT_GT(answers.load(), 100);
    for (std::size_t i = 0; i < ports_.size(); ++i)
        EXPECT_TRUE(eventually([&] { return body(i) == "v1\n"; }, 10s)) << "host h" << i + 1 << ": " << body(i);
    EXPECT_EQ(fleetConfig(), fleetDocument("v1\n"));
    const auto status = runCommand(gwctlFleet({"status", "--json"}), gateway_.dir(), 15s);
    ASSERT_EQ(status.exit_code, 0) << status.err;
    const auto hosts = nlohmann::json::parse(status.out)["hosts"];
    ASSERT_EQ(hosts.size(), 3u) << status.out;
    for (const auto& host : hosts) EXPECT_TRUE(host.contains("verdict")) << host.dump();
}

}  // namespace
}  // namespace hotgate::test

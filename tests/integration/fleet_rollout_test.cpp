// Rolling a fleet config out in waves (docs/fleet.md, "Rollouts") over three hosts and a real
// etcd: while a wave runs only its hosts serve the candidate; each wave waits until its hosts
// serve it for the gate; at the end the candidate becomes <prefix>/config. A candidate that the
// second wave refuses, or fails the config engine's verification on, rolls the first wave back
// too, and <prefix>/config never changes. A binary rollout (gwctl fleet upgrade) runs the new
// version on each host in turn without a failed request, and a rolled-back one returns every
// upgraded host to the binary it ran before.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleet/etcd_client.h"
#include "fleet/rollout.h"
#include "release/artifact_verify.h"
#include "gateway_fixture.h"
#include "support/etcd_server.h"
#include "support/fleet_documents.h"

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
        // Versions a binary rollout started are no children of the test: stopped by their PIDs.
        std::vector<pid_t> successors;
        for (const auto& [key, status] : statuses()) {
            const pid_t pid = status.value("pid", 0);
            bool own = false;
            for (auto& host : hosts_) own = own || host->pid() == pid;
            if (pid > 0 && !own) successors.push_back(pid);
        }
        for (pid_t pid : successors) ::kill(pid, SIGTERM);
        for (auto& host : hosts_) host->signal(SIGTERM);
        for (auto& host : hosts_) host->waitExit(30s);
        for (pid_t pid : successors)
            if (!eventually([pid] { return ::kill(pid, 0) != 0; }, 30s)) ::kill(pid, SIGKILL);
        GatewayFixture::TearDown();
        etcd_.stop();
    }

    // The fleet's part: config_ with a /fleet route answering `answer`, verified for `window`.
    std::string fleetDocument(const std::string& answer, const GatewayConfig* base = nullptr,
                              const std::string& window = "1s") const {
        return test::fleetDocument(base ? *base : config_, answer,
                                   "  verification_window: " + window + "\n  min_requests: 20\n");
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

    // Every registered host's status document by key.
    std::map<std::string, nlohmann::json> statuses() {
        fleet::EtcdClient client({etcd_.url()});
        return fleetStatuses(client, kPrefix);
    }
    std::string binaryOf(std::size_t host) {
        const auto all = statuses();
        const auto found = all.find(std::string(kPrefix) + "/hosts/h" + std::to_string(host + 1));
        return found == all.end() || !found->second.is_object() ? std::string()
                                                                 : found->second.value("binary_sha256", "");
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
    EXPECT_NE(result.err.find(std::string("etcd ") + kPrefix + "/config.rollout candidate r"), std::string::npos)
        << "the candidate is named, not <prefix>/config: " << result.err;
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

std::string hotgateB() { return std::string(HOTGATE_BIN_DIR) + "/hotgate_b"; }

TEST_F(FleetRolloutTest, ABinaryRolloutRunsTheNewVersionOnEveryHostWithoutAFailedRequest) {
    const auto sha256 = release::sha256OfFile(hotgateB());
    ASSERT_TRUE(sha256) << sha256.error().message;
    const std::string before = binaryOf(0);
    ASSERT_EQ(before.size(), 64u);
    std::atomic<bool> done{false};
    std::atomic<int> failed{0};
    std::atomic<int> answered{0};
    std::vector<std::thread> clients;
    for (std::size_t host = 0; host < ports_.size(); ++host)
        clients.emplace_back([&, host] {
            HttpClient client(ports_[host]);
            for (int i = 0; i < 30000 && !done; ++i) {  // bounded: about 90 s
                auto result = client.get("/fleet");
                if (!result.ok() || result.status() != 200) ++failed;
                ++answered;
                std::this_thread::sleep_for(3ms);
            }
        });
    const auto result = runCommand(gwctlFleet({"upgrade", "--binary", hotgateB(), "--sha256", *sha256, "--waves",
                                               "1,100%", "--gate", "1s", "--timeout", "60s"}),
                                   gateway_.dir(), 150s);
    std::this_thread::sleep_for(500ms);
    done = true;
    for (auto& client : clients) client.join();
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    EXPECT_NE(result.out.find("wave 1/2: h1\n"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("done: every host runs"), std::string::npos) << result.out;
    for (const auto& [key, status] : statuses()) {
        EXPECT_EQ(status.value("binary_sha256", ""), *sha256) << key;
        EXPECT_NE(status.value("version", "").find("-b/"), std::string::npos) << status.dump();
    }
    for (std::size_t i = 0; i < ports_.size(); ++i) EXPECT_EQ(body(i), "v1\n") << "host h" << i + 1;
    EXPECT_EQ(failed.load(), 0) << "of " << answered.load() << " requests";
    EXPECT_GT(answered.load(), 300);
}

TEST_F(FleetRolloutTest, ABinaryRolloutRolledBackReturnsEveryUpgradedHostToItsBinary) {
    const auto sha256 = release::sha256OfFile(hotgateB());
    ASSERT_TRUE(sha256) << sha256.error().message;
    const std::string before = binaryOf(0);
    // A SHA-256 the binary does not have: the first host refuses to run it, and nothing moves.
    const std::string wrong(64, 'a');
    const auto refused = runCommand(gwctlFleet({"upgrade", "--binary", hotgateB(), "--sha256", wrong, "--waves",
                                                "1,100%", "--gate", "1s", "--timeout", "30s"}),
                                    gateway_.dir(), 60s);
    EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("host h1 could not run the binary: sha256 mismatch"), std::string::npos)
        << refused.err;
    for (std::size_t i = 0; i < ports_.size(); ++i) EXPECT_EQ(binaryOf(i), before) << "host h" << i + 1;
    // Rolled back, the binary is asked for no more: h1 reports serving again.
    EXPECT_TRUE(eventually(
        [&] { return statuses()[std::string(kPrefix) + "/hosts/h1"].value("state", "") == "serving"; }, 10s))
        << statuses()[std::string(kPrefix) + "/hosts/h1"].dump();

    // The right one, rolled back by hand while its first wave runs it.
    ChildProcess upgrade;
    std::string error;
    ASSERT_TRUE(upgrade.start(gwctlFleet({"upgrade", "--binary", hotgateB(), "--sha256", *sha256, "--waves", "1,100%",
                                          "--gate", "60s", "--timeout", "90s"}),
                              gateway_.dir() / "upgrade.out", gateway_.dir() / "upgrade.err", error))
        << error;
    ASSERT_TRUE(eventually([&] { return binaryOf(0) == *sha256; }, 60s)) << upgrade.readStderr();
    const auto rollback = runCommand(gwctlFleet({"rollback", "--reason", "test"}), gateway_.dir(), 15s);
    EXPECT_EQ(rollback.exit_code, 0) << rollback.err;
    EXPECT_EQ(upgrade.waitExit(30s).value_or(-1), 1) << upgrade.readStdout() << upgrade.readStderr();
    EXPECT_TRUE(eventually([&] { return binaryOf(0) == before; }, 60s)) << "h1 runs " << binaryOf(0);
    EXPECT_TRUE(eventually(
        [&] {
            const auto h1 = statuses()[std::string(kPrefix) + "/hosts/h1"];
            return h1.is_object() && h1.value("version", "").find("-b/") == std::string::npos;
        },
        10s));
    for (std::size_t i = 1; i < ports_.size(); ++i) EXPECT_EQ(binaryOf(i), before) << "host h" << i + 1;
    for (std::size_t i = 0; i < ports_.size(); ++i) EXPECT_EQ(body(i), "v1\n") << "host h" << i + 1;
}

}  // namespace
}  // namespace hotgate::test

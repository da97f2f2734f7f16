// A fleet at the size the issue names (docs/fleet.md): six hosts, each with its own ports,
// control socket and bpffs root, on a three-member etcd cluster on loopback. A change reaches
// all six within a second; a rollout in three waves completes although an etcd member dies in
// the middle of it; with every member stopped each host serves on, and one restarted meanwhile
// serves last_good; when etcd returns, every host registers again and catches up; a document at
// a lower revision than a host serves (etcd restored from an older snapshot) is never applied.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fleet/etcd_client.h"
#include "gateway_fixture.h"
#include "support/etcd_server.h"
#include "support/fleet_documents.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPrefix = "/cluster-test";
constexpr std::size_t kHosts = 6;

class FleetClusterTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        std::string error;
        ASSERT_TRUE(etcd_.start(gateway_.dir(), error)) << error;
        put(fleetDocument("v1\n"));
        for (std::size_t i = 0; i < kHosts; ++i) {
            hosts_.push_back(hostConfig(i));
            processes_.push_back(std::make_unique<GatewayProcess>());
            ASSERT_TRUE(processes_.back()->start(hosts_.back()));
        }
        for (std::size_t i = 0; i < kHosts; ++i) ASSERT_EQ(body(i), "v1\n") << "host h" << i + 1;
    }
    void TearDown() override {
        for (auto& process : processes_) process->signal(SIGTERM);
        for (auto& process : processes_) process->waitExit(30s);
        GatewayFixture::TearDown();
        etcd_.stopAll();
    }

    // Host i lists the members from member i mod 3 on, so the watches spread over them.
    GatewayConfig hostConfig(std::size_t i) const {
        GatewayConfig host = defaultGatewayConfig(pickFreePort(), pickFreePort(), upstream_.port(), down_port_);
        host.host_part_only = true;
        const auto state = gateway_.dir() / ("h" + std::to_string(i + 1));
        std::filesystem::create_directories(state);
        const auto urls = etcd_.urls();
        std::string endpoints;
        for (std::size_t k = 0; k < urls.size(); ++k)
            endpoints += (endpoints.empty() ? "\"" : ", \"") + urls[(i + k) % urls.size()] + "\"";
        host.extra = "config_source:\n  etcd:\n    endpoints: [" + endpoints + "]\n    prefix: " + kPrefix +
                     "\n    host_id: h" + std::to_string(i + 1) + "\n    last_good: \"" +
                     (state / "last-good.yaml").string() + "\"\n";
        return host;
    }
    std::string fleetDocument(const std::string& answer) const { return test::fleetDocument(config_, answer); }
    std::int64_t put(const std::string& text) {
        fleet::EtcdClient client(etcd_.urls());
        auto revision = client.put(std::string(kPrefix) + "/config", text);
        EXPECT_TRUE(revision.has_value()) << (revision ? "" : revision.error().message);
        return revision.value_or(0);
    }
    std::string body(std::size_t host) {
        auto result = httpGet(hosts_[host].listen_port, "/fleet");
        return result.ok() ? result.response.body() : "(" + result.error() + ")";
    }
    bool allServe(const std::string& answer, std::chrono::milliseconds within) {
        return eventually(
            [&] {
                for (std::size_t i = 0; i < kHosts; ++i)
                    if (body(i) != answer) return false;
                return true;
            },
            within);
    }
    // The registered hosts' status documents.
    std::map<std::string, nlohmann::json> statuses() {
        fleet::EtcdClient client(etcd_.urls());
        return fleetStatuses(client, kPrefix);
    }
    // Every host registered, serving `revision` with a healthy verdict.
    bool allReport(std::int64_t revision, std::chrono::milliseconds within) {
        return eventually(
            [&] {
                const auto all = statuses();
                if (all.size() != kHosts) return false;
                for (const auto& [key, status] : all)
                    if (!status.is_object() || status.value("revision", std::int64_t{0}) != revision ||
                        status.value("state", "") != "serving" || status.value("verdict", "") != "healthy")
                        return false;
                return true;
            },
            within);
    }
    std::vector<std::string> gwctlFleet(std::vector<std::string> args) const {
        std::vector<std::string> argv{gwctlBinary(), "fleet"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back("--etcd");
        for (const auto& url : etcd_.urls()) argv.push_back(url);
        argv.insert(argv.end(), {"--prefix", kPrefix});
        return argv;
    }

    EtcdCluster etcd_;
    std::vector<GatewayConfig> hosts_;
    std::vector<std::unique_ptr<GatewayProcess>> processes_;
};

TEST_F(FleetClusterTest, AChangeReachesAllSixInASecondAndARolloutSurvivesAMemberLost) {
    const auto revision = put(fleetDocument("v2\n"));
    const auto put_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(allServe("v2\n", 1s));
    std::cout << "put to served on all " << kHosts << " hosts: "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - put_at).count()
              << " ms\n";
    ASSERT_TRUE(allReport(revision, 10s)) << nlohmann::json(statuses()).dump();

    // Three waves; the first member dies once the first wave serves the candidate.
    const auto candidate = gateway_.writeFile("v3.yaml", fleetDocument("v3\n"));
    ChildProcess rollout;
    std::string error;
    ASSERT_TRUE(rollout.start(gwctlFleet({"rollout", "--config", candidate.string(), "--waves", "1,50%,100%", "--gate",
                                          "1s", "--timeout", "30s"}),
                              gateway_.dir() / "rollout.out", gateway_.dir() / "rollout.err", error))
        << error;
    ASSERT_TRUE(eventually([&] { return body(0) == "v3\n"; }, 15s)) << rollout.readStderr();
    EXPECT_EQ(body(5), "v2\n") << "the last wave waits";
    etcd_.member(0).kill();
    ASSERT_EQ(rollout.waitExit(90s).value_or(-1), 0) << rollout.readStdout() << rollout.readStderr();
    const auto out = rollout.readStdout();
    EXPECT_NE(out.find("wave 1/3: h1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("wave 2/3: h2 h3\n"), std::string::npos) << out;
    EXPECT_NE(out.find("wave 3/3: h4 h5 h6\n"), std::string::npos) << out;
    EXPECT_TRUE(allServe("v3\n", 5s));
    fleet::EtcdClient client(etcd_.urls());
    auto config = client.get(std::string(kPrefix) + "/config");
    ASSERT_TRUE(config && config->kv);
    EXPECT_EQ(config->kv->value, fleetDocument("v3\n"));
    EXPECT_TRUE(allReport(config->kv->mod_revision, 15s)) << nlohmann::json(statuses()).dump();
}

TEST_F(FleetClusterTest, WithEtcdGoneHostsServeOnAndCatchUpWhenItReturns) {
    const auto revision = put(fleetDocument("v2\n"));
    ASSERT_TRUE(allServe("v2\n", 1s));
    ASSERT_TRUE(allReport(revision, 10s));
    etcd_.stopAll();
    std::this_thread::sleep_for(1s);
    EXPECT_TRUE(allServe("v2\n", 1s)) << "nothing served changes";
    // A host restarted meanwhile serves last_good, and says so.
    processes_[5]->signal(SIGTERM);
    ASSERT_TRUE(processes_[5]->waitExit(30s).has_value());
    processes_[5] = std::make_unique<GatewayProcess>();
    ASSERT_TRUE(processes_[5]->start(hosts_[5]));
    EXPECT_EQ(body(5), "v2\n");
    EXPECT_NE(processes_[5]->stderrText().find("etcd cannot be reached"), std::string::npos)
        << processes_[5]->stderrText();
    // Longer than the status lease: every host's registration is gone when etcd returns.
    std::this_thread::sleep_for(11s);
    std::string error;
    ASSERT_TRUE(etcd_.startAll(gateway_.dir(), error)) << error;
    EXPECT_TRUE(allReport(revision, 20s)) << "every host registers again: " << nlohmann::json(statuses()).dump();
    const auto newest = put(fleetDocument("v4\n"));
    EXPECT_TRUE(allServe("v4\n", 10s));
    EXPECT_TRUE(allReport(newest, 10s)) << nlohmann::json(statuses()).dump();
}

TEST_F(FleetClusterTest, ADocumentAtALowerRevisionIsNeverApplied) {
    // etcd is restored from a snapshot taken at v2: its store goes back below what hosts serve.
    const auto at_snapshot = put(fleetDocument("v2\n"));
    ASSERT_TRUE(allServe("v2\n", 1s));
    const auto snapshot = gateway_.dir() / "etcd.snapshot";
    etcd_.member(0).etcdctl({"snapshot", "save", snapshot.string()});
    for (int i = 3; i <= 6; ++i) put(fleetDocument("v" + std::to_string(i) + "\n"));
    const auto served = put(fleetDocument("v7\n"));
    ASSERT_TRUE(allReport(served, 10s)) << nlohmann::json(statuses()).dump();
    etcd_.stopAll();
    std::string error;
    ASSERT_TRUE(etcd_.restore(gateway_.dir(), snapshot, error)) << error;
    fleet::EtcdClient client(etcd_.urls());
    auto restored = client.get(std::string(kPrefix) + "/config");
    ASSERT_TRUE(restored && restored->kv);
    ASSERT_EQ(restored->kv->mod_revision, at_snapshot);
    // The hosts read it again once they reach etcd, and keep v7: its revision is below theirs.
    std::this_thread::sleep_for(3s);
    EXPECT_TRUE(allServe("v7\n", 1s));
    for (std::size_t i = 0; i < kHosts; ++i)
        EXPECT_NE(processes_[i]->stderrText().find("below the " + std::to_string(served) + " this host serves"),
                  std::string::npos)
            << "host h" << i + 1 << ": " << processes_[i]->stderrText();
}

}  // namespace
}  // namespace hotgate::test

// A fleet host's config from etcd (docs/fleet.md), against a real etcd the test starts: the
// host's own file names etcd, etcd's <prefix>/config holds the rest; a put reaches the host
// within a second; a refused config keeps what is served and says where (etcd's lines, keys in
// both places, keys that belong to the host); the host's status is a key under a lease; etcd
// going away changes nothing served, a host started meanwhile serves last_good, and once etcd
// is back the host catches up, through a compaction past what it had.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "fleet/etcd_client.h"
#include "gateway_fixture.h"
#include "support/etcd_server.h"
#include "support/fleet_documents.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPrefix = "/fleet-test";

class FleetConfigTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        std::string error;
        ASSERT_TRUE(etcd_.start(gateway_.dir(), error)) << error;
        last_good_ = gateway_.dir() / "state" / "last-good.yaml";
        std::filesystem::create_directories(last_good_.parent_path());
        config_.host_part_only = true;
        config_.extra = "config_source:\n  etcd:\n    endpoints: [\"" + etcd_.url() + "\"]\n    prefix: " + kPrefix +
                        "\n    host_id: gw-test\n    last_good: \"" + last_good_.string() + "\"\n";
    }
    void TearDown() override {
        GatewayFixture::TearDown();
        etcd_.stop();
    }

    // The fleet's document: the fixture's shared sections, with /fleet answering `body`. The
    // host reports "serving" (and keeps last_good) once the engine's verification window ends.
    std::string fleetDocument(const std::string& body) const { return test::fleetDocument(config_, body); }
    std::int64_t putConfig(const std::string& text) {
        fleet::EtcdClient client({etcd_.url()});
        auto revision = client.put(std::string(kPrefix) + "/config", text);
        EXPECT_TRUE(revision.has_value()) << (revision ? "" : revision.error().message);
        return revision.value_or(0);
    }
    std::string fleetBody(std::uint16_t port) {
        auto result = httpGet(port, "/fleet");
        return result.ok() ? result.response.body() : "(" + result.error() + ")";
    }
    bool serves(const std::string& body, std::chrono::milliseconds within, std::uint16_t port = 0) {
        return eventually([&] { return fleetBody(port ? port : this->port()) == body; }, within);
    }
    nlohmann::json hostStatus() {
        fleet::EtcdClient client({etcd_.url()});
        auto read = client.get(std::string(kPrefix) + "/hosts/gw-test");
        if (!read || !read->kv) return nlohmann::json::object();
        return nlohmann::json::parse(read->kv->value, nullptr, false);
    }
    // The host reports `state` for `revision`: the one it serves, or the one it refused.
    bool statusReaches(const std::string& state, std::int64_t revision, std::chrono::milliseconds within = 5s) {
        const char* field = state == "refused" ? "refused_revision" : "revision";
        return eventually(
            [&] {
                const auto status = hostStatus();
                return status.is_object() && status.value("state", "") == state &&
                       status.value(field, std::int64_t{0}) == revision;
            },
            within);
    }

    EtcdServer etcd_;
    std::filesystem::path last_good_;
};

TEST_F(FleetConfigTest, ThePutConfigIsServedAndAChangeReachesTheHostWithinASecond) {
    putConfig(fleetDocument("v1\n"));
    ASSERT_TRUE(startGateway());
    EXPECT_EQ(fleetBody(port()), "v1\n");
    const auto revision = putConfig(fleetDocument("v2\n"));
    const auto put_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(serves("v2\n", 1s)) << fleetBody(port());
    std::cout << "put to served: "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - put_at).count()
              << " ms\n";
    EXPECT_TRUE(statusReaches("serving", revision)) << hostStatus().dump();
    EXPECT_EQ(hostStatus().value("verdict", ""), "healthy") << hostStatus().dump();
    EXPECT_NE(hostStatus().value("version", "").find('/'), std::string::npos) << hostStatus().dump();
    // gwctl fleet status reads the same from etcd, through the host's own file.
    const auto listed = runCommand({gwctlBinary(), "fleet", "status", "--host-config", gateway_.configFile().string()},
                                   gateway_.dir(), 15s);
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    EXPECT_NE(listed.out.find("mod_revision " + std::to_string(revision)), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find("gw-test"), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find("serving"), std::string::npos) << listed.out;
    const auto unreachable = runCommand({gwctlBinary(), "fleet", "status", "--etcd", "http://127.0.0.1:1", "--prefix",
                                         kPrefix},
                                        gateway_.dir(), 15s);
    EXPECT_EQ(unreachable.exit_code, 3) << unreachable.out << unreachable.err;
    EXPECT_NE(unreachable.err.find("connect"), std::string::npos) << unreachable.err;
    // last_good: the applied config, readable by its owner only.
    struct stat st {};
    ASSERT_EQ(::stat(last_good_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_NE(readFile(last_good_).find("v2\\n"), std::string::npos);
}

TEST_F(FleetConfigTest, ARefusedConfigKeepsWhatIsServedAndSaysWhere) {
    config_.extra += "health:\n  enabled: false\n";  // a section of the host's own
    putConfig(fleetDocument("v1\n"));
    ASSERT_TRUE(startGateway());
    // A bad value on line 2 of etcd's document: named by etcd's key and line.
    std::string bad = fleetDocument("bad\n");
    bad.replace(bad.find("max_header_bytes: 16k"), 21, "max_header_bytes: lots");
    const auto bad_revision = putConfig(bad);
    ASSERT_TRUE(statusReaches("refused", bad_revision)) << hostStatus().dump();
    const auto problems = hostStatus()["problems"].dump();
    EXPECT_NE(problems.find(std::string("etcd ") + kPrefix + "/config:2"), std::string::npos) << problems;
    EXPECT_NE(problems.find("max_header_bytes"), std::string::npos) << problems;
    EXPECT_EQ(fleetBody(port()), "v1\n");
    // A key the host's file has too, and one that belongs to the host.
    const auto both = putConfig(fleetDocument("both\n") + "health:\n  enabled: true\n");
    ASSERT_TRUE(statusReaches("refused", both)) << hostStatus().dump();
    EXPECT_NE(hostStatus()["problems"].dump().find("health is set both here and in"), std::string::npos)
        << hostStatus().dump();
    const auto host_key = putConfig(fleetDocument("host\n") + "workers: 4\n");
    ASSERT_TRUE(statusReaches("refused", host_key)) << hostStatus().dump();
    EXPECT_NE(hostStatus()["problems"].dump().find("workers belongs to each host's own file"), std::string::npos)
        << hostStatus().dump();
    EXPECT_EQ(fleetBody(port()), "v1\n");
    // A good one after them is applied.
    const auto good = putConfig(fleetDocument("v2\n"));
    EXPECT_TRUE(serves("v2\n", 1s));
    EXPECT_TRUE(statusReaches("serving", good)) << hostStatus().dump();
}

TEST_F(FleetConfigTest, CheckConfigOnAHostFileChecksItMergedWithEtcd) {
    const auto host_file = gateway_.writeFile("host.yaml", config_.toYaml());
    const auto revision = putConfig(fleetDocument("v1\n"));
    auto checked = runCommand({hotgateBinary(), "--check-config", host_file.string()}, gateway_.dir(), 30s);
    EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
    EXPECT_NE(checked.out.find("config ok: " + host_file.string() + " with etcd " + kPrefix + "/config (mod_revision " +
                               std::to_string(revision)),
              std::string::npos)
        << checked.out;
    // etcd's part is checked as the host would: its problems carry etcd's lines.
    std::string bad = fleetDocument("bad\n");
    bad.replace(bad.find("max_header_bytes: 16k"), 21, "max_header_bytes: lots");
    putConfig(bad);
    checked = runCommand({hotgateBinary(), "--check-config", host_file.string()}, gateway_.dir(), 30s);
    EXPECT_EQ(checked.exit_code, 1) << checked.out << checked.err;
    EXPECT_NE(checked.err.find(std::string("etcd ") + kPrefix + "/config:2"), std::string::npos) << checked.err;
}

TEST_F(FleetConfigTest, WithoutEtcdTheHostServesOnAndARestartServesLastGoodThenCatchesUp) {
    putConfig(fleetDocument("v1\n"));
    ASSERT_TRUE(startGateway());
    ASSERT_EQ(fleetBody(port()), "v1\n");
    // etcd goes away: nothing served changes.
    etcd_.stop();
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(fleetBody(port()), "v1\n");
    std::string error;
    ASSERT_TRUE(etcd_.start(gateway_.dir(), error)) << error;
    // While the host is down, etcd moves on and compacts past the host's revision.
    gateway_.signal(SIGTERM);
    ASSERT_TRUE(gateway_.waitExit(30s).has_value());
    putConfig(fleetDocument("v2\n"));
    const auto newest = putConfig(fleetDocument("v3\n"));
    etcd_.etcdctl({"compaction", std::to_string(newest)});
    // The host starts while etcd is away: it serves last_good, and says so.
    etcd_.stop();
    GatewayProcess restarted;
    ASSERT_TRUE(restarted.start(config_));
    EXPECT_EQ(fleetBody(port()), "v1\n");
    EXPECT_NE(restarted.stderrText().find("serving " + last_good_.string()), std::string::npos)
        << restarted.stderrText();
    // etcd is back: the host reads the config again (its history before the compaction is
    // gone) and serves the newest.
    ASSERT_TRUE(etcd_.start(gateway_.dir(), error)) << error;
    EXPECT_TRUE(serves("v3\n", 15s)) << fleetBody(port()) << restarted.stderrText();
    EXPECT_TRUE(statusReaches("serving", newest, 10s)) << hostStatus().dump();
    restarted.signal(SIGTERM);
    restarted.waitExit(30s);
}

// The client under the config source, against the same etcd: a watch reports every change in
// order, says when its start revision was compacted (the source then reads again), and ends
// when interrupted from another thread.
TEST_F(FleetConfigTest, TheWatchReportsChangesCompactionAndInterruption) {
    fleet::EtcdClient client({etcd_.url()});
    const std::string key = std::string(kPrefix) + "/watched";
    const auto first = client.put(key, "1");
    ASSERT_TRUE(first) << first.error().message;
    const auto second = client.put(key, "2");
    ASSERT_TRUE(second);
    std::vector<std::int64_t> seen;
    std::thread interrupter([&] {
        std::this_thread::sleep_for(300ms);
        client.interruptWatch();
    });
    const auto interrupted = client.watch(key, *first, [&](std::int64_t revision) { seen.push_back(revision); });
    interrupter.join();
    EXPECT_EQ(interrupted.kind, fleet::WatchEnd::Kind::Interrupted) << interrupted.error;
    EXPECT_EQ(seen, (std::vector<std::int64_t>{*first, *second}));
    // Compacted past the start: the watch says to what.
    client.resumeWatch();
    const auto third = client.put(key, "3");
    ASSERT_TRUE(third);
    etcd_.etcdctl({"compaction", std::to_string(*third)});
    const auto compacted = client.watch(key, *first, [](std::int64_t) {});
    EXPECT_EQ(compacted.kind, fleet::WatchEnd::Kind::Compacted) << compacted.error;
    EXPECT_EQ(compacted.compact_revision, *third);
    // The member goes away: the watch fails (and the source reconnects).
    std::thread stopper([&] {
        std::this_thread::sleep_for(300ms);
        etcd_.stop();
    });
    const auto failed = client.watch(key, *third + 1, [](std::int64_t) {});
    stopper.join();
    EXPECT_EQ(failed.kind, fleet::WatchEnd::Kind::Failed);
    EXPECT_FALSE(failed.error.empty());
    const auto unreachable = client.get(key);
    ASSERT_FALSE(unreachable);
    EXPECT_NE(unreachable.error().message.find(etcd_.url()), std::string::npos) << unreachable.error().message;
}

}  // namespace
}  // namespace hotgate::test

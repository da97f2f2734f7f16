// Chaos on the client path: hot upgrades while every packet between the clients and the
// gateway crosses a veth with netem. The gateway, its upstream and the versions gwctl starts
// live in a network namespace the test makes; loadgen runs in a second one behind the veth.
// 5 upgrade cycles under the mixed load with `netem delay 100ms 20ms` on both ends, then 5
// with 1% loss added: zero failed requests.
//
// Needs a kernel with netem: the VM suite (vmtests/suite, Debian 6.1) runs it with
// HOTGATE_REQUIRE_NETEM=1, so missing netem fails there. This host's kernel has no netem: it
// skips with that reason (HOTGATE_REQUIRE_PRIVILEGED does not turn this skip into a failure).
#include <algorithm>
#include <cstdlib>
#include <set>

#include "support/netem_client_path.h"
#include "support/netns.h"
#include "support/privilege.h"
#include "segmented_load.h"
#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

// The first base: the test's thread enters a network namespace of its own before the
// fixture's upstream and gateway exist, so they live in it; it goes back after they are gone.
struct OwnNetworkNamespace {
    OwnNetworkNamespace() {
        if (!havePrivilege()) {
            error = missingPrivilege();
            return;
        }
        auto entered = ScopedNetns::enter();
        if (entered) netns = std::move(*entered);
        else error = entered.error().what();
    }
    std::unique_ptr<ScopedNetns> netns;
    std::string error;
};

class NetemChaosTest : protected OwnNetworkNamespace, public UpgradeTest {
protected:
    void SetUp() override {
        if (!netns) {
            if (std::getenv("HOTGATE_REQUIRE_PRIVILEGED") || std::getenv("HOTGATE_REQUIRE_NETEM"))
                FAIL() << "a network namespace of the test's own: " << error;
            GTEST_SKIP() << "needs a network namespace of its own: " << error;
        }
        UpgradeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        // Every address of this namespace: 127.0.0.1 for the fixture's checks, the veth for the clients.
        config_.listen_address = "0.0.0.0";
        // Each version loads the health profile's BPF programs at start, seconds under the VM's
        // emulated CPU; the steering (what this test is about) does not need it.
        config_.extra += "health:\n  enabled: false\n";
        auto path = NetemClientPath::create();
        ASSERT_TRUE(path) << path.error().what();
        path_.emplace(std::move(*path));
        if (auto netem = path_->setNetem({"delay", "100ms", "20ms"}); !netem) {
            if (std::getenv("HOTGATE_REQUIRE_NETEM")) FAIL() << "netem is required here: " << netem.error().what();
            GTEST_SKIP() << "no netem in this kernel (runs in the VM suite, vmtests/suite): " << netem.error().what();
        }
    }

    // One loadgen segment in the client namespace, to the gateway across the veth. A small load
    // with generous client-side bounds: the VM's one slow vCPU runs every process of the test,
    // and a request lost in an upgrade still shows (it fails or runs into the timeout).
    bool startClientSegment(ChildProcess& load, int seconds, const std::filesystem::path& json, std::string& error) {
        const std::vector<std::string> argv{
            loadgenBinary(), "--target", std::string(NetemClientPath::kGatewayAddress) + ":" + std::to_string(port()),
            "--netns-target", "--duration", std::to_string(seconds), "--rate", "10", "--keepalive", "4", "--streams",
            "2", "--stream-path", "/ws", "--path", "/load", "--timeout-ms", "15000", "--max-lag-ms", "5000", "--quiet",
            "--json", json.string()};
        const auto stem = json.parent_path() / json.stem();
        bool started = false;
        auto ran = runInNetns(path_->clientNetns(), [&] {
            started = load.start(argv, stem.string() + ".out", stem.string() + ".err", error);
        });
        if (!ran) error = ran.error().what();
        return ran && started;
    }

    // 5 upgrade -> cutover -> commit cycles (B, A, B, A, B) under a load that runs throughout.
    void fiveCyclesUnderLoad(const std::string& fault) {
        SCOPED_TRACE(fault);
        const auto dir = gateway_.dir() / ("load " + fault);
        std::filesystem::create_directories(dir);
        SegmentedLoad load(dir, 6, [this](ChildProcess& segment, int seconds, const auto& json, std::string& error) {
            return startClientSegment(segment, seconds, json, error);
        });
        std::this_thread::sleep_for(1s);
        const auto took = alternatingUpgradeCycles(5);
        if (HasFatalFailure()) return;
        load.stop();
        EXPECT_EQ(load.problems(), std::vector<std::string>{});
        int ok = 0, failed = 0, keepalive_ok = 0, new_connection_ok = 0, stream_failed = 0;
        std::set<std::string> versions;
        std::vector<double> p50s;
        double p99 = 0;
        const auto count = [](const nlohmann::json& summary, const char* pointer) {
            return summary.value(nlohmann::json::json_pointer(pointer), 0);
        };
        for (const auto& summary : load.summaries()) {
            ok += count(summary, "/ok");
            failed += count(summary, "/failed");
            EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2);
            keepalive_ok += count(summary, "/kinds/keepalive/outcomes/ok");
            new_connection_ok += count(summary, "/kinds/new_connection/outcomes/ok");
            stream_failed += count(summary, "/kinds/stream/failed");
            const auto seen_versions = summary.value("versions", nlohmann::json::object());
            for (const auto& [version, seen] : seen_versions.items()) versions.insert(version);
            p50s.push_back(summary.value(nlohmann::json::json_pointer("/latency_ms/p50"), 0.0));
            p99 = std::max(p99, summary.value(nlohmann::json::json_pointer("/latency_ms/p99"), 0.0));
        }
        EXPECT_GE(load.summaries().size(), 2u) << "two chains of segments";
        EXPECT_EQ(failed, 0);
        EXPECT_GE(versions.size(), 2u) << ::testing::PrintToString(versions);
        EXPECT_GT(keepalive_ok, 0);
        EXPECT_GT(new_connection_ok, 0);
        EXPECT_EQ(stream_failed, 0) << "every stream intact";
        // The fault was on the path: no segment's median was below the 2 x 80 ms netem adds at least.
        for (double p50 : p50s) EXPECT_GE(p50, 160.0);
        std::cerr << "[chaos] netem " << fault << ": 5 cycles in " << took.count() << " ms, "
                  << load.summaries().size() << " loadgen segments, " << ok << " requests, " << failed
                  << " failed, worst segment p99 " << p99 << " ms\n";
    }

    std::optional<NetemClientPath> path_;
};

TEST_P(NetemChaosTest, FiveCyclesWithDelayThenFiveWithLossFailNothing) {
    ASSERT_TRUE(startGateway());
    fiveCyclesUnderLoad("delay 100ms 20ms");
    if (HasFatalFailure()) return;
    auto loss = path_->setNetem({"delay", "100ms", "20ms", "loss", "1%"});
    ASSERT_TRUE(loss) << loss.error().what();
    fiveCyclesUnderLoad("delay 100ms 20ms loss 1%");
}

INSTANTIATE_TEST_SUITE_P(Modes, NetemChaosTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

// The config engine end to end: the real hotgate and gwctl, changes applied live over the
// control socket (and by SIGHUP), under load, with bad files of every kind, a verification
// window that rolls a bad change back by itself, and socket changes through the upgrade path.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "config/config_loader.h"
#include "control/control_server.h"
#include "control/fd_passing.h"
#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

std::string loadgenBinary() {
    return std::string(HOTGATE_BIN_DIR) + "/loadgen";
}

class ConfigEngineTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        config_.workers = 2;
    }

    void TearDown() override {
        for (pid_t pid : started_pids_) ::kill(pid, SIGKILL);
        GatewayFixture::TearDown();
    }

    // Writes `config` (plus any extra YAML) next to the running one; returns its path.
    std::string write(const std::string& name, const GatewayConfig& config, const std::string& extra = "") {
        auto written = config;
        written.bpffs_root = gateway_.writtenConfig().bpffs_root;
        return gateway_.writeFile(name, written.toYaml() + extra).string();
    }

    std::string servedHash(const std::string& target = "/direct") {
        const std::string version(httpGet(port(), target).response["x-hotgate-version"]);
        return version.substr(version.find('/') + 1);
    }

    static std::string hashOf(const std::string& file) {
        auto loaded = loadConfigFile(file);
        EXPECT_TRUE(loaded) << (loaded ? "" : formatProblems(loaded.error()));
        return loaded ? (*loaded)->hash : "";
    }

    std::vector<pid_t> started_pids_;
};

TEST_F(ConfigEngineTest, ApplyChangesRoutesInPlaceAndRollbackReturns) {
    ASSERT_TRUE(startGateway());
    const std::string old_hash = servedHash();
    const pid_t pid = gateway_.pid();

    auto changed = config_;
    changed.routes[0].direct_body = "changed\n";  // route "direct"
    changed.routes.insert(changed.routes.begin(), {"beta", "{ path: /beta }", "", 201, "beta\n"});
    const auto file = write("changed.yaml", changed);

    auto diff = gwctl({"config", "diff", file, "--against", "running"});
    ASSERT_EQ(diff.exit_code, 0) << diff.err;
    EXPECT_NE(diff.out.find("routes[beta] added"), std::string::npos) << diff.out;
    EXPECT_NE(diff.out.find(R"(routes[direct].direct_response.body: "direct\n" -> "changed\n")"), std::string::npos)
        << diff.out;

    auto applied = gwctl({"config", "apply", file});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    const std::string new_hash = hashOf(file);
    EXPECT_NE(applied.out.find("applied " + new_hash), std::string::npos) << applied.out;
    // The next request sees the new snapshot: same process, no new sockets.
    auto direct = httpGet(port(), "/direct");
    EXPECT_EQ(direct.response.body(), "changed\n");
    EXPECT_EQ(servedHash(), new_hash);
    EXPECT_EQ(httpGet(port(), "/beta").status(), 201u);
    EXPECT_EQ(gateway_.pid(), pid);
    EXPECT_TRUE(gateway_.running());
    EXPECT_TRUE(metricReaches("hotgate_config_applies_total", {{"result", "applied"}}, 1));
    EXPECT_EQ(metric("hotgate_config_info", {{"hash", new_hash}}), 1);
    EXPECT_EQ(metric("hotgate_config_info", {{"hash", old_hash}}), 0);
    // The new route counts in /metrics under its name.
    EXPECT_TRUE(metricReaches("hotgate_http_requests_total", {{"route", "beta"}}, 1));

    auto history = gwctl({"config", "history", "--json"});
    ASSERT_EQ(history.exit_code, 0) << history.err;
    const auto entries = nlohmann::json::parse(history.out)["entries"];
    ASSERT_EQ(entries.size(), 2u) << history.out;
    EXPECT_EQ(entries[0]["hash"], old_hash);
    EXPECT_EQ(entries[0]["state"], "previous");
    EXPECT_EQ(entries[1]["hash"], new_hash);
    EXPECT_EQ(entries[1]["state"], "serving");
    EXPECT_GT(entries[1]["time_ms"].get<std::int64_t>(), 0);

    auto rolled = gwctl({"config", "rollback"});
    ASSERT_EQ(rolled.exit_code, 0) << rolled.out << rolled.err;
    EXPECT_EQ(httpGet(port(), "/direct").response.body(), "direct\n");
    EXPECT_EQ(servedHash(), old_hash);
    EXPECT_EQ(httpGet(port(), "/beta").response.body(), "ok /beta\n") << "beta is gone: the catch-all proxies it";
    EXPECT_TRUE(metricReaches("hotgate_config_applies_total", {{"result", "manual_rollback"}}, 1));
    // Nothing older to return to.
    EXPECT_NE(gwctl({"config", "rollback"}).exit_code, 0);
}

TEST_F(ConfigEngineTest, ReorderedRestatedConfigIsNoChange) {
    ASSERT_TRUE(startGateway());
    auto same = config_;
    std::swap(same.clusters[0], same.clusters[1]);
    same.upstream_connect = "2000ms";  // the default, restated in other units
    const auto file = write("same.yaml", same, "config_engine:\n  history: \"10\"\n");
    auto diff = gwctl({"config", "diff", gateway_.configFile().string(), file});
    ASSERT_EQ(diff.exit_code, 0) << diff.err;
    EXPECT_EQ(diff.out, "");
    auto applied = gwctl({"config", "apply", file});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    EXPECT_NE(applied.out.find("no change"), std::string::npos) << applied.out;
}

TEST_F(ConfigEngineTest, BadConfigsOfEveryKindAreRejectedAndTheRunningHashStays) {
    ASSERT_TRUE(startGateway());
    const std::string hash = servedHash();
    const std::string base = gateway_.configFile().string();
    auto expectRejected = [&](const std::string& name, const std::string& text, const std::string& message) {
        SCOPED_TRACE(name);
        const auto file = gateway_.writeFile(name, text).string();
        auto result = gwctl({"config", "apply", file});
        EXPECT_EQ(result.exit_code, 1) << result.out;
        EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
        EXPECT_NE(result.err.find("the running config is unchanged"), std::string::npos) << result.err;
        EXPECT_EQ(servedHash(), hash);
    };
    const std::string good = readFile(base);
    auto edited = [&](const std::string& from, const std::string& to) {
        std::string text = good;
        const auto at = text.find(from);
        EXPECT_NE(at, std::string::npos) << from << " not in\n" << text;
        if (at != std::string::npos) text.replace(at, from.size(), to);
        return text;
    };
    expectRejected("syntax.yaml", good + "routes: [ {\n", "YAML syntax error");
    expectRejected("type.yaml", edited("max_connections: 10000", "max_connections: [1]"),
                   "limits.max_connections: must be a scalar value");
    expectRejected("unknown-cluster.yaml", edited("cluster: backend", "cluster: nope"),
                   "routes[upstream].cluster: unknown cluster 'nope'");
    const auto listener_at = good.find("listeners:\n");
    ASSERT_NE(listener_at, std::string::npos) << good;
    const auto listener_end = good.find("\n", good.find("address:", listener_at));
    const std::string listener = good.substr(listener_at + 11, listener_end - listener_at - 11 + 1);
    expectRejected("duplicate-listener.yaml", edited("listeners:\n", "listeners:\n" + listener),
                   "duplicate listener name");
    expectRejected("range.yaml", edited("workers: 2", "workers: 100000"), "workers: must be between 1 and 256");
    expectRejected(
        "certificate.yaml",
        edited(listener, listener + "    tls: { certificates: [ { certificate_file: /nonexistent/cert.pem, key_file: " +
                             base + " } ] }\n"),
        "listeners[public].tls.certificates[0]: certificate file /nonexistent/cert.pem: cannot open");
    // Each problem names file and line.
    const auto file = gateway_.writeFile("lines.yaml", edited("cluster: backend", "cluster: nope")).string();
    auto result = gwctl({"config", "apply", file});
    EXPECT_NE(result.err.find(file + ":"), std::string::npos) << result.err;
    EXPECT_TRUE(metricReaches("hotgate_config_applies_total", {{"result", "rejected"}}, 7));
    EXPECT_TRUE(gateway_.running());
}

TEST_F(ConfigEngineTest, ControlMessagesWithoutTheirFieldsAreRefusedClearly) {
    ASSERT_TRUE(startGateway());
    auto ask = [&](control::MessageType type, const nlohmann::json& payload) {
        auto fd = control::connectControl(gateway_.controlSocket().string());
        EXPECT_TRUE(fd);
        EXPECT_TRUE(control::sendMessage(fd->get(), type, payload));
        auto reply = control::receiveMessage(fd->get(), 5s);
        EXPECT_TRUE(reply);
        return reply ? std::make_pair(reply->type, reply->payload)
                     : std::make_pair(control::MessageType::Ok, nlohmann::json{});
    };
    auto [type, payload] = ask(control::MessageType::ConfigApply, nlohmann::json::object());
    EXPECT_EQ(type, control::MessageType::Error);
    EXPECT_EQ(payload.value("message", ""), "ConfigApply needs a non-empty string field 'path'");
    std::tie(type, payload) = ask(control::MessageType::ConfigDiff, {{"path", "relative.yaml"}});
    EXPECT_EQ(type, control::MessageType::Error);
    EXPECT_NE(payload.value("message", "").find("must be absolute"), std::string::npos);
    std::tie(type, payload) = ask(control::MessageType::ConfigApply, {{"path", "/x.yaml"}, {"wait", "yes"}});
    EXPECT_EQ(type, control::MessageType::Error);
    EXPECT_EQ(payload.value("message", ""), "'wait' must be true or false");
    // gwctl's upgrade stages: a malformed report is refused by name, and nothing changes.
    std::tie(type, payload) = ask(control::MessageType::UpgradeStages,
                                  {{"pid", 1}, {"stages", {{{"name", "hot-update:swap"}}}}});
    EXPECT_EQ(type, control::MessageType::Error);
    EXPECT_NE(payload.value("message", "").find("unknown stage 'hot-update:swap'"), std::string::npos)
        << payload.dump();
    EXPECT_TRUE(gateway_.running());
    EXPECT_EQ(httpGet(port(), "/direct").status(), 200u);
}

TEST_F(ConfigEngineTest, SighupReReadsTheConfigFile) {
    ASSERT_TRUE(startGateway());
    const std::string old_hash = servedHash();
    auto changed = config_;
    changed.routes[0].direct_body = "after sighup\n";
    changed.bpffs_root = gateway_.writtenConfig().bpffs_root;
    {
        std::ofstream out(gateway_.configFile(), std::ios::trunc);
        out << changed.toYaml();
    }
    ASSERT_TRUE(::kill(gateway_.pid(), SIGHUP) == 0);
    EXPECT_TRUE(eventually([&] { return httpGet(port(), "/direct").response.body() == "after sighup\n"; }))
        << "SIGHUP did not apply the rewritten file";
    EXPECT_NE(servedHash(), old_hash);
    EXPECT_TRUE(gateway_.running()) << "SIGHUP must not end the process";
    // A broken file on SIGHUP changes nothing.
    {
        std::ofstream out(gateway_.configFile(), std::ios::trunc);
        out << "workers: [\n";
    }
    ASSERT_TRUE(::kill(gateway_.pid(), SIGHUP) == 0);
    EXPECT_TRUE(metricReaches("hotgate_config_applies_total", {{"result", "rejected"}}, 1));
    EXPECT_EQ(httpGet(port(), "/direct").response.body(), "after sighup\n");
}

TEST_F(ConfigEngineTest, RemovedEndpointsDrainAndAddedOnesGetTheNextRequests) {
    TestUpstream second;
    ASSERT_NE(second.port(), 0);
    ASSERT_TRUE(startGateway());
    HttpClient client(port());
    for (int i = 0; i < 5; ++i) ASSERT_EQ(client.get("/warm").status(), 200u);  // pools a connection to the first

    // A slow request in flight on the only endpoint, which the next change removes.
    const auto first_seen = upstream_.requestHeadersSeen();
    std::atomic<unsigned> slow_status{0};
    std::thread slow([&] { slow_status = httpGet(port(), "/slow?ms=1000").status(); });
    ASSERT_TRUE(eventually([&] { return upstream_.requestHeadersSeen() > first_seen; }, 3s));

    auto only_second = config_;
    only_second.clusters[0].endpoints = {second.address()};
    auto applied = gwctl({"config", "apply", write("second.yaml", only_second)});
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    EXPECT_NE(applied.out.find("clusters[backend].endpoints += " + second.address()), std::string::npos) << applied.out;
    const auto first_after_apply = upstream_.requestHeadersSeen();
    for (int i = 0; i < 20; ++i) ASSERT_EQ(client.get("/after").status(), 200u);
    EXPECT_EQ(second.requestsCompleted(), 20u) << "the added endpoint gets every request from the next one on";
    EXPECT_EQ(upstream_.requestHeadersSeen(), first_after_apply) << "a removed endpoint gets no new request";
    slow.join();
    EXPECT_EQ(slow_status.load(), 200u) << "a request in flight when its endpoint was removed finishes";

    // Both: the kept endpoint keeps serving, the re-added one gets traffic again.
    auto both = config_;
    both.clusters[0].endpoints.push_back(second.address());
    ASSERT_EQ(gwctl({"config", "apply", write("both.yaml", both)}).exit_code, 0);
    for (int i = 0; i < 20; ++i) ASSERT_EQ(client.get("/spread").status(), 200u);
    EXPECT_GT(upstream_.requestHeadersSeen(), first_after_apply);
    EXPECT_GT(second.requestsCompleted(), 20u);
}

TEST_F(ConfigEngineTest, FiftyAppliesUnderLoadFailNothingAndNeverMixSnapshots) {
    TestUpstream second;
    ASSERT_NE(second.port(), 0);
    config_.routes.insert(config_.routes.begin(), {"v", "{ path: /v }", "", 200, "v-start\n"});
    ASSERT_TRUE(startGateway());

    // 50 files: each a different body for /v (so a hash tells which body is right), and the
    // catch-all alternating between one endpoint and two (pools retire and gain endpoints).
    std::map<std::string, std::string> body_of_hash{{servedHash("/v"), "v-start\n"}};
    std::vector<std::string> files;
    for (int i = 0; i < 50; ++i) {
        auto next = config_;
        next.routes[0].direct_body = "v-" + std::to_string(i) + "\n";
        if (i % 2 == 0) next.clusters[0].endpoints.push_back(second.address());
        if (i % 5 == 0) next.routes[0].direct_status = 203;
        files.push_back(write("load-" + std::to_string(i) + ".yaml", next));
        body_of_hash[hashOf(files.back())] = next.routes[0].direct_body;
    }
    ASSERT_EQ(body_of_hash.size(), 51u);

    ChildProcess load;
    std::string error;
    constexpr int kSeconds = 10;
    const auto dir = gateway_.dir();
    ASSERT_TRUE(load.start({loadgenBinary(), "--target", "127.0.0.1:" + std::to_string(port()), "--duration",
                            std::to_string(kSeconds), "--rate", "1000", "--keepalive", "10", "--keepalive-mode", "busy",
                            "--path", "/load", "--quiet", "--json", (dir / "load.json").string()},
                           dir / "load.out", dir / "load.err", error))
        << error;

    // Keep-alive clients that check every answer of /v against the snapshot its header names.
    std::atomic<bool> done{false};
    std::atomic<int> checked{0};
    std::mutex mutex;
    std::vector<std::string> mismatches;
    std::set<std::string> seen_hashes;
    std::vector<std::thread> checkers;
    for (int c = 0; c < 4; ++c)
        checkers.emplace_back([&] {
            HttpClient client(port());
            while (!done) {
                auto r = client.get("/v");
                const std::string version(r.response["x-hotgate-version"]);
                const std::string hash = version.substr(version.find('/') + 1);
                std::lock_guard lock(mutex);
                seen_hashes.insert(hash);
                auto expected = body_of_hash.find(hash);
                if (!r.ok() || expected == body_of_hash.end() || expected->second != r.response.body())
                    mismatches.push_back((r.ok() ? "" : r.error() + " ") + "hash " + hash + " body " +
                                         r.response.body());
                ++checked;
            }
        });
    std::this_thread::sleep_for(1s);
    std::vector<double> apply_ms;
    for (const auto& file : files) {
        const auto started = std::chrono::steady_clock::now();
        auto applied = gwctl({"config", "apply", file});
        EXPECT_EQ(applied.exit_code, 0) << applied.out << applied.err;
        apply_ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
        std::this_thread::sleep_for(100ms);
    }
    done = true;
    for (auto& t : checkers) t.join();
    auto code = load.waitExit(std::chrono::seconds(kSeconds + 30));
    ASSERT_TRUE(code.has_value()) << "loadgen did not stop by itself";
    const auto summary = nlohmann::json::parse(readFile(dir / "load.json"), nullptr, false);
    ASSERT_FALSE(summary.is_discarded()) << load.readStderr();
    EXPECT_EQ(summary.value("failed", -1), 0) << summary.dump(2);
    // The load really flowed at the issue's rate or more (about 13,000 req/s here).
    EXPECT_GE(summary.value("ok", 0) / std::max(0.001, summary.value("elapsed_s", 0.0)), 2000.0) << summary.dump(2);
    // Every version the load saw is one of the 51 snapshots.
    const auto versions = summary.value("versions", nlohmann::json::object());
    EXPECT_GT(versions.size(), 10u) << versions.dump(2);
    for (const auto& item : versions.items()) {
        const std::string version = item.key();
        EXPECT_TRUE(body_of_hash.count(version.substr(version.find('/') + 1))) << version;
    }
    EXPECT_TRUE(mismatches.empty()) << mismatches.size()
                                    << " answers did not match their snapshot, first: " << mismatches.front();
    EXPECT_GT(checked.load(), 500);
    EXPECT_GT(seen_hashes.size(), 25u) << "the checkers saw most of the snapshots go by";
    EXPECT_GT(second.requestsCompleted(), 0u);
    EXPECT_EQ(servedHash("/v"), hashOf(files.back()));
}

TEST_F(ConfigEngineTest, VerificationWindowRollsBackAChangeToAFailingUpstream) {
    const std::string window = "config_engine:\n  verification_window: 5s\n  min_requests: 20\n";
    ASSERT_TRUE(startGateway());
    ASSERT_EQ(gwctl({"config", "apply", write("engine.yaml", config_, window)}).exit_code, 0);
    const std::string good_hash = servedHash();

    // Traffic on the catch-all route, before and during the change.
    std::atomic<bool> done{false};
    std::atomic<int> errors{0};
    std::atomic<int> answers{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < 2; ++c)
        clients.emplace_back([&] {
            HttpClient client(port());
            while (!done) {
                auto r = client.get("/api");
                ++answers;
                if (!r.ok() || r.status() >= 500) ++errors;
                std::this_thread::sleep_for(2ms);
            }
        });
    std::this_thread::sleep_for(1500ms);
    ASSERT_EQ(errors.load(), 0);

    auto bad = config_;
    bad.routes[2].cluster = "dead";  // "upstream" (the catch-all) now goes where nothing listens
    const auto started = std::chrono::steady_clock::now();
    auto applied = gwctl({"config", "apply", "--wait", write("bad.yaml", bad, window)});
    const auto took = std::chrono::steady_clock::now() - started;
    const int burst = errors.load();
    std::this_thread::sleep_for(300ms);
    done = true;
    for (auto& t : clients) t.join();

    EXPECT_EQ(applied.exit_code, 1) << applied.out << applied.err;
    EXPECT_NE(applied.err.find("rolled back: 5xx share on routes [upstream] rose"), std::string::npos) << applied.err;
    EXPECT_LT(took, 5s) << "rolled back within the window, not at its end";
    EXPECT_EQ(servedHash(), good_hash);
    EXPECT_EQ(errors.load(), burst) << "no errors after the rollback";
    EXPECT_GT(burst, 0);
    EXPECT_LT(burst, 200) << "the error burst is bounded (" << answers.load() << " answers in all)";
    EXPECT_TRUE(metricReaches("hotgate_config_applies_total", {{"result", "rolled_back"}}, 1));
    auto history = nlohmann::json::parse(gwctl({"config", "history", "--json"}).out);
    EXPECT_EQ(history["entries"].back()["state"].get<std::string>().rfind("rolled back: 5xx share", 0), 0u)
        << history.dump(2);

    // A good change passes its window.
    auto fine = config_;
    fine.routes[0].direct_body = "fine\n";
    auto verified = gwctl({"config", "apply", "--wait", write("fine.yaml", fine, window)});
    done = false;
    EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
    EXPECT_NE(verified.out.find("verified"), std::string::npos) << verified.out;
}

TEST_F(ConfigEngineTest, WorkerCountChangeGoesThroughTheUpgradePath) {
    ASSERT_TRUE(startGateway());
    const pid_t old_pid = gateway_.pid();
    auto more = config_;
    more.workers = 3;
    const auto file = write("workers.yaml", more);
    gateway_.expectExit();  // the old process hands over and exits
    auto applied = gwctl({"config", "apply", file});
    ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
    EXPECT_NE(applied.out.find("workers: 2 -> 3   [needs a new version]"), std::string::npos) << applied.out;
    EXPECT_NE(applied.out.find("applied through a new version: pid "), std::string::npos) << applied.out;
    const pid_t new_pid = std::atoi(applied.out.c_str() + applied.out.find("pid ") + 4);
    ASSERT_GT(new_pid, 0);
    started_pids_.push_back(new_pid);
    EXPECT_NE(new_pid, old_pid);
    EXPECT_EQ(servedHash(), hashOf(file));
    EXPECT_TRUE(gateway_.waitExit(20s).has_value()) << "the old version exits after handing over";
    // The new version owns the control socket and runs the config engine.
    auto history = gwctl({"config", "history"});
    EXPECT_EQ(history.exit_code, 0) << history.err;
    EXPECT_NE(history.out.find(hashOf(file)), std::string::npos) << history.out;
    // And a config with a bad file never starts a new version.
    more.workers = 4;
    auto bad = write("bad-workers.yaml", more, "nonsense: 1\n");
    auto refused = gwctl({"config", "apply", bad});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("nonsense: unknown key"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace hotgate::test

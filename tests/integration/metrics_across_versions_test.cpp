// Metrics without a gap at cutover (docs/operations.md "Metrics across versions"): during
// upgrades under load, every scrape of the shared admin port carries every live version's
// hotgate_http_* series. Scraped every 100 ms through 5 upgrade cycles: no version's request
// counter ever goes backwards, and at the end the versions' counts add up to exactly what the
// client was answered (each version's count also equals what the client saw it answer).
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;

class MetricsAcrossVersionsTest : public UpgradeTest {};

// hotgate_http_requests_total per version label, summed over the other labels.
std::map<std::string, double> requestsByVersion(const MetricSamples& samples) {
    std::map<std::string, double> by_version;
    for (const auto& sample : findSamples(samples, "hotgate_http_requests_total"))
        by_version[sample.labels.at("version")] += sample.value;
    return by_version;
}

// Scrapes /metrics every 100 ms on its own thread until stopped; remembers each version's last
// count and every time a version's count went down.
class Scraper {
public:
    explicit Scraper(std::uint16_t admin_port) : admin_port_(admin_port) {
        thread_ = std::thread([this] {
            while (!stop_) {
                scrapeOnce();
                std::this_thread::sleep_for(100ms);
            }
        });
    }
    ~Scraper() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    void scrapeOnce() {
        auto result = httpGet(admin_port_, "/metrics");
        std::lock_guard lock(mutex_);
        if (!result.ok() || result.status() != 200) {
            ++failed_scrapes_;
            return;
        }
        ++scrapes_;
        for (const auto& [version, count] : requestsByVersion(parsePrometheusText(result.response.body()))) {
            auto [at, fresh] = last_.emplace(version, count);
            if (!fresh && count < at->second)
                regressions_.push_back(version + ": " + std::to_string(at->second) + " -> " + std::to_string(count));
            at->second = std::max(at->second, count);
        }
    }
    std::map<std::string, double> last() {
        std::lock_guard lock(mutex_);
        return last_;
    }
    std::vector<std::string> regressions() {
        std::lock_guard lock(mutex_);
        return regressions_;
    }
    int scrapes() {
        std::lock_guard lock(mutex_);
        return scrapes_;
    }
    int failedScrapes() {
        std::lock_guard lock(mutex_);
        return failed_scrapes_;
    }

private:
    const std::uint16_t admin_port_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::map<std::string, double> last_;
    std::vector<std::string> regressions_;
    int scrapes_ = 0;
    int failed_scrapes_ = 0;
    std::thread thread_;
};

TEST_P(MetricsAcrossVersionsTest, EveryScrapeCountsEveryVersionThroughFiveUpgrades) {
    ASSERT_TRUE(startGateway());
    // Each cycle serves its own config (one extra route), so each version has its own label.
    std::vector<std::string> configs;
    for (int cycle = 1; cycle <= 5; ++cycle) {
        auto changed = gateway_.writtenConfig();
        changed.routes.insert(changed.routes.begin(),
                              {"extra" + std::to_string(cycle), "{ path: /extra" + std::to_string(cycle) + " }", "",
                               200, "extra\n"});
        configs.push_back(gateway_.writeFile("cycle" + std::to_string(cycle) + ".yaml", changed.toYaml()).string());
    }
    const auto before = requestsByVersion(metrics());  // what starting the gateway sent
    Scraper scraper(adminPort());

    constexpr int kSeconds = 20;
    ChildProcess load;
    ASSERT_TRUE(startLoad(load, kSeconds, 1000, 20, 0));
    std::this_thread::sleep_for(1s);
    const std::string binaries[] = {hotgateBBinary(), hotgateBinary()};
    std::map<std::string, double> checks;  // upgradeCycle's own request to each new version
    for (int cycle = 1; cycle <= 5; ++cycle) {
        SCOPED_TRACE("cycle " + std::to_string(cycle));
        upgradeCycle(binaries[cycle % 2], configs[cycle - 1]);
        if (HasFatalFailure()) return;
        const auto status = controlStatus();
        checks[status["versions"][0].value("version", "")] += 1;
    }
    const auto summary = finishLoad(load, kSeconds);
    ASSERT_EQ(summary.value("failed", -1), 0) << summary.dump(2) << "\n" << last_load_stderr_;
    ASSERT_TRUE(onlyOneVersionLeft()) << controlStatus().dump(2);
    std::this_thread::sleep_for(300ms);
    scraper.stop();
    scraper.scrapeOnce();

    EXPECT_TRUE(scraper.regressions().empty()) << ::testing::PrintToString(scraper.regressions());
    EXPECT_EQ(scraper.failedScrapes(), 0);
    EXPECT_GT(scraper.scrapes(), 50);
    const auto last = scraper.last();
    EXPECT_EQ(last.size(), 6u) << "the first version and the 5 upgraded ones: " << ::testing::PrintToString(last);
    // The client's view: responses by the x-hotgate-version that answered them.
    std::map<std::string, double> client;
    for (const auto& [version, seen] : summary["versions"].items()) client[version] = seen.value("count", 0);
    for (const auto& [version, n] : checks) client[version] += n;
    double served = 0, answered = 0;
    for (const auto& [version, count] : last) {
        const double already = before.count(version) ? before.at(version) : 0;
        served += count - already;
        EXPECT_EQ(count - already, client.count(version) ? client.at(version) : 0) << "version " << version;
    }
    for (const auto& [version, n] : client) answered += n;
    EXPECT_EQ(served, answered);
    EXPECT_EQ(answered, summary.value("ok", 0) + 5.0) << summary.dump(2);
}

INSTANTIATE_TEST_SUITE_P(Modes, MetricsAcrossVersionsTest, ::testing::Values("auto", "off"),
                         [](const auto& info) { return std::string(info.param) == "auto" ? "Bpf" : "Takeover"; });

}  // namespace
}  // namespace hotgate::test

// configs/grafana/hotgate.json and configs/prometheus.yml: well-formed, and every metric the
// Grafana dashboard queries is one a real gateway (with traffic, in BPF mode) exports.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "health_view_fixture.h"

namespace hotgate::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string sourceFile(const std::string& relative) {
    return std::string(HOTGATE_SOURCE_DIR) + "/" + relative;
}

json grafanaDashboard() {
    const std::string text = readFile(sourceFile("configs/grafana/hotgate.json"));
    EXPECT_FALSE(text.empty()) << "configs/grafana/hotgate.json is missing or empty";
    auto parsed = json::parse(text, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "configs/grafana/hotgate.json is not valid JSON";
    return parsed.is_discarded() ? json() : parsed;
}

// Every PromQL expression of every panel.
std::vector<std::string> queries(const json& dashboard) {
    std::vector<std::string> out;
    for (const auto& panel : dashboard.value("panels", json::array()))
        for (const auto& target : panel.value("targets", json::array())) out.push_back(target.value("expr", ""));
    return out;
}

// The metric names an expression reads (hotgate_* identifiers; label values are quoted, so a
// name is an identifier outside quotes).
std::set<std::string> metricNames(const std::string& expr) {
    std::string unquoted;
    bool quoted = false;
    for (char c : expr) {
        if (c == '"') quoted = !quoted;
        unquoted.push_back(quoted ? ' ' : c);
    }
    std::set<std::string> names;
    const std::regex name(R"(\bhotgate_[a-z0-9_]+)");
    for (auto it = std::sregex_iterator(unquoted.begin(), unquoted.end(), name); it != std::sregex_iterator(); ++it)
        names.insert(it->str());
    return names;
}

TEST(GrafanaDashboard, IsWellFormed) {
    const json dashboard = grafanaDashboard();
    ASSERT_TRUE(dashboard.is_object());
    EXPECT_FALSE(dashboard.value("title", "").empty());
    EXPECT_FALSE(dashboard.value("uid", "").empty());
    // The data source is a variable, so the dashboard imports into any Grafana.
    bool has_datasource_variable = false;
    for (const auto& variable : dashboard["templating"].value("list", json::array()))
        if (variable.value("name", "") == "datasource" && variable.value("type", "") == "datasource")
            has_datasource_variable = true;
    EXPECT_TRUE(has_datasource_variable);

    std::set<int> ids;
    int graphs = 0;
    for (const auto& panel : dashboard.value("panels", json::array())) {
        const std::string title = panel.value("title", "");
        EXPECT_FALSE(title.empty()) << panel.dump();
        EXPECT_TRUE(ids.insert(panel.value("id", -1)).second) << "duplicate panel id in " << title;
        const auto& grid = panel["gridPos"];
        EXPECT_GT(grid.value("w", 0), 0) << title;
        EXPECT_GT(grid.value("h", 0), 0) << title;
        EXPECT_LE(grid.value("x", 0) + grid.value("w", 0), 24) << title << " is wider than the grid";
        if (panel.value("type", "") == "row") continue;
        ++graphs;
        EXPECT_EQ(panel["datasource"].value("uid", ""), "${datasource}") << title;
        const auto targets = panel.value("targets", json::array());
        EXPECT_FALSE(targets.empty()) << title << " queries nothing";
        for (const auto& target : targets) {
            const std::string expr = target.value("expr", "");
            EXPECT_FALSE(expr.empty()) << title;
            EXPECT_EQ(std::count(expr.begin(), expr.end(), '('), std::count(expr.begin(), expr.end(), ')'))
                << "unbalanced parentheses in " << title << ": " << expr;
            EXPECT_EQ(std::count(expr.begin(), expr.end(), '{'), std::count(expr.begin(), expr.end(), '}'))
                << "unbalanced braces in " << title << ": " << expr;
            EXPECT_FALSE(metricNames(expr).empty()) << title << " reads no hotgate metric: " << expr;
        }
    }
    EXPECT_GE(graphs, 8);
}

TEST(PrometheusConfig, ScrapesTheDefaultAdminAddress) {
    YAML::Node config;
    ASSERT_NO_THROW(config = YAML::LoadFile(sourceFile("configs/prometheus.yml")));
    const YAML::Node defaults = YAML::LoadFile(sourceFile("configs/default.yaml"));
    const std::string admin = defaults["admin"]["address"].as<std::string>();
    ASSERT_TRUE(config["scrape_configs"].IsSequence());
    bool scraped = false;
    for (const auto& job : config["scrape_configs"]) {
        EXPECT_FALSE(job["job_name"].as<std::string>("").empty());
        if (job["metrics_path"].as<std::string>("/metrics") != "/metrics") continue;
        for (const auto& group : job["static_configs"])
            for (const auto& target : group["targets"])
                if (target.as<std::string>() == admin) scraped = true;
    }
    EXPECT_TRUE(scraped) << "configs/prometheus.yml does not scrape " << admin << "/metrics";
}

class GrafanaQueriesTest : public HealthViewFixture {};

TEST_F(GrafanaQueriesTest, EveryQueriedMetricIsOneTheGatewayExports) {
    const json dashboard = grafanaDashboard();
    ASSERT_TRUE(dashboard.is_object());
    config_.listener_extra = "    protocols: [h2, http1]\n";
    ASSERT_TRUE(startGateway());
    startTraffic();
    ASSERT_TRUE(healthHasTraffic());
    // One gRPC call hotgate answers itself (its cluster's endpoint is down: UNAVAILABLE), so
    // the gRPC status family has a series.
    const auto grpc = runCommand({"/usr/bin/curl", "-sS", "--http2-prior-knowledge", "--max-time", "5", "-H",
                                  "content-type: application/grpc", "--data-binary", "x",
                                  "http://127.0.0.1:" + std::to_string(port()) + "/down/grpc"},
                                 gateway_.dir(), 10s);
    ASSERT_EQ(grpc.exit_code, 0) << grpc.err;
    ASSERT_TRUE(metricReaches("hotgate_grpc_responses_total", {{"grpc_status", "14"}}, 1));

    auto scrape = httpGet(adminPort(), "/metrics");
    ASSERT_TRUE(scrape.ok()) << scrape.error();
    ASSERT_EQ(scrape.status(), 200u);
    // Exported: a sample's name, or a family the gateway declares (# TYPE name kind), with the
    // series names a histogram family implies.
    std::set<std::string> exported;
    for (const auto& sample : parsePrometheusText(scrape.response.body())) exported.insert(sample.name);
    std::istringstream lines(scrape.response.body());
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string hash, type, name, kind;
        if (!(words >> hash >> type >> name >> kind) || hash != "#" || type != "TYPE") continue;
        exported.insert(name);
        if (kind == "histogram")
            for (const char* suffix : {"_bucket", "_sum", "_count"}) exported.insert(name + suffix);
    }

    std::set<std::string> queried;
    for (const auto& expr : queries(dashboard))
        for (const auto& name : metricNames(expr)) queried.insert(name);
    ASSERT_FALSE(queried.empty());
    for (const auto& name : queried)
        EXPECT_TRUE(exported.count(name)) << "Grafana queries " << name << ", /metrics has no such metric";
    // The families the dashboard is about are all there.
    for (const char* family :
         {"hotgate_http_requests_total", "hotgate_tcp_handshake_seconds_bucket", "hotgate_tcp_resets_total",
          "hotgate_tcp_retransmits_total", "hotgate_health_events_dropped_total", "hotgate_active_connections"})
        EXPECT_TRUE(queried.count(family)) << "the dashboard has no panel on " << family;
}

}  // namespace
}  // namespace hotgate::test

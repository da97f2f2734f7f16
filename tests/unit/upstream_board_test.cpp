// UpstreamBoard: what /status and /metrics say of each endpoint across workers: how many
// workers have it ejected now (an ejection ending in the past counts no more) and how many
// ejections there were, one row per endpoint of the config, in config order.
#include "proxy/upstream_board.h"

#include <gtest/gtest.h>

namespace hotgate {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

ClusterConfig cluster(const std::string& name, std::vector<EndpointConfig> endpoints) {
    ClusterConfig config;
    config.name = name;
    config.endpoints = std::move(endpoints);
    return config;
}

// Cluster "api" (two endpoints, weights 1 and 3), then cluster "pay" (one endpoint).
Config twoClusters() {
    Config config;
    config.clusters.push_back(cluster("api", {{{"10.0.0.1", 80}, 1}, {{"10.0.0.2", 80}, 3}}));
    config.clusters.push_back(cluster("pay", {{{"10.0.1.1", 443}, 1}}));
    return config;
}

const SocketAddress kApi1{"10.0.0.1", 80};
const SocketAddress kApi2{"10.0.0.2", 80};

TEST(EndpointReport, CountsWorkersWhoseEjectionLastsPastNow) {
    const auto t = Clock::time_point{} + 1h;
    EndpointReport report(3);
    EXPECT_EQ(report.ejectedWorkers(t), 0u);
    report.ejected(0, t + 10s);
    report.ejected(1, t + 20s);
    EXPECT_EQ(report.ejectedWorkers(t), 2u);
    EXPECT_EQ(report.ejectedWorkers(t + 10s), 1u);  // worker 0's ejection ends there
    EXPECT_EQ(report.ejectedWorkers(t + 20s), 0u);
    EXPECT_EQ(report.ejections(), 2u);
}

TEST(EndpointReport, AWorkerCountsOnceHoweverOftenItEjects) {
    const auto t = Clock::time_point{} + 1h;
    EndpointReport report(2);
    report.ejected(1, t + 10s);
    report.ejected(1, t + 40s);
    EXPECT_EQ(report.ejectedWorkers(t + 20s), 1u);  // the later ejection is the one that counts
    EXPECT_EQ(report.ejections(), 2u);
}

TEST(UpstreamBoard, OneReportPerClusterAndEndpoint) {
    UpstreamBoard board(2);
    const auto first = board.report("api", kApi1);
    EXPECT_EQ(board.report("api", kApi1), first);
    EXPECT_NE(board.report("api", kApi2), first);
    EXPECT_NE(board.report("pay", kApi1), first);  // the same address in another cluster
}

TEST(UpstreamBoard, RowsListEveryEndpointInConfigOrderWithItsWeight) {
    const UpstreamBoard board(4);
    const auto rows = board.rows(twoClusters());
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].cluster, "api");
    EXPECT_EQ(rows[0].endpoint, "10.0.0.1:80");
    EXPECT_EQ(rows[0].weight, 1u);
    EXPECT_EQ(rows[1].endpoint, "10.0.0.2:80");
    EXPECT_EQ(rows[1].weight, 3u);
    EXPECT_EQ(rows[2].cluster, "pay");
    EXPECT_EQ(rows[2].endpoint, "10.0.1.1:443");
    for (const auto& row : rows) {
        EXPECT_EQ(row.ejected_workers, 0u) << row.endpoint;  // no report yet: nothing ejected
        EXPECT_EQ(row.ejections, 0u) << row.endpoint;
    }
}

TEST(UpstreamBoard, RowsCountFutureEjectionsAsEjectedAndPastOnesOnlyAsEjections) {
    UpstreamBoard board(4);
    const auto report = board.report("api", kApi2);
    const auto now = Clock::now();
    report->ejected(0, now + 1h);
    report->ejected(1, now + 1h);
    report->ejected(3, now - 1h);
    const auto rows = board.rows(twoClusters());
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[1].endpoint, "10.0.0.2:80");
    EXPECT_EQ(rows[1].ejected_workers, 2u);
    EXPECT_EQ(rows[1].ejections, 3u);
    EXPECT_EQ(rows[0].ejections, 0u);  // its neighbour is untouched
}

TEST(UpstreamBoard, EndpointsNoLongerInTheConfigHaveNoRow) {
    UpstreamBoard board(1);
    board.report("api", SocketAddress{"10.9.9.9", 80})->ejected(0, Clock::now() + 1h);
    board.report("gone", kApi1)->ejected(0, Clock::now() + 1h);
    const auto rows = board.rows(twoClusters());
    ASSERT_EQ(rows.size(), 3u);
    for (const auto& row : rows) EXPECT_EQ(row.ejections, 0u) << row.cluster << " " << row.endpoint;
}

TEST(UpstreamBoard, ZeroWorkersIsOne) {
    UpstreamBoard board(0);
    board.report("api", kApi1)->ejected(7, Clock::now() + 1h);
    const auto rows = board.rows(twoClusters());
    EXPECT_EQ(rows[0].ejected_workers, 1u);
}

// The label `name` of `metric`, or "" when it has none.
std::string label(const prometheus::ClientMetric& metric, const std::string& name) {
    for (const auto& l : metric.label)
        if (l.name == name) return l.value;
    return "";
}

TEST(UpstreamBoardMetrics, GaugeOfEjectedWorkersAndCounterOfEjectionsPerEndpoint) {
    UpstreamBoard board(2);
    const auto now = Clock::now();
    board.report("api", kApi2)->ejected(0, now + 1h);
    board.report("api", kApi2)->ejected(1, now - 1h);
    board.report("pay", SocketAddress{"10.0.1.1", 443})->ejected(1, now + 1h);

    const auto families = board.metricFamilies(twoClusters(), "1.2.3-abc");
    ASSERT_EQ(families.size(), 2u);
    const auto& ejected = families[0];
    const auto& ejections = families[1];
    EXPECT_EQ(ejected.name, "hotgate_upstream_ejected");
    EXPECT_EQ(ejected.type, prometheus::MetricType::Gauge);
    EXPECT_EQ(ejections.name, "hotgate_upstream_ejections_total");
    EXPECT_EQ(ejections.type, prometheus::MetricType::Counter);
    ASSERT_EQ(ejected.metric.size(), 3u);
    ASSERT_EQ(ejections.metric.size(), 3u);

    const double expected_ejected[] = {0, 1, 1};
    const double expected_ejections[] = {0, 2, 1};
    const char* expected_cluster[] = {"api", "api", "pay"};
    const char* expected_endpoint[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.1.1:443"};
    for (std::size_t i = 0; i < 3; ++i) {
        for (const auto* family : {&ejected, &ejections}) {
            const auto& metric = family->metric[i];
            EXPECT_EQ(metric.label.size(), 3u);
            EXPECT_EQ(label(metric, "cluster"), expected_cluster[i]);
            EXPECT_EQ(label(metric, "endpoint"), expected_endpoint[i]);
            EXPECT_EQ(label(metric, "version"), "1.2.3-abc");
        }
        EXPECT_EQ(ejected.metric[i].gauge.value, expected_ejected[i]) << expected_endpoint[i];
        EXPECT_EQ(ejections.metric[i].counter.value, expected_ejections[i]) << expected_endpoint[i];
    }
}

}  // namespace
}  // namespace hotgate

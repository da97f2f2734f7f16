// GatewayFixture: one TestUpstream and one hotgate process per test, with the default test
// config (see defaultGatewayConfig) that a test edits in config_ before startGateway().
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "support/gateway_config.h"
#include "support/gateway_process.h"
#include "support/http_client.h"
#include "support/prometheus_text.h"
#include "support/test_upstream.h"

namespace hotgate::test {

class GatewayFixture : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_NE(upstream_.port(), 0) << "test upstream could not bind 127.0.0.1:0";
        down_port_ = pickFreePort();
        config_ = defaultGatewayConfig(pickFreePort(), pickFreePort(), upstream_.port(), down_port_);
    }

    ::testing::AssertionResult startGateway() { return gateway_.start(config_); }

    std::uint16_t port() const { return gateway_.port(); }
    std::uint16_t adminPort() const { return gateway_.adminPort(); }

    // The admin /metrics, parsed; empty (and a test failure) when it cannot be fetched.
    MetricSamples metrics() {
        auto result = httpGet(adminPort(), "/metrics");
        EXPECT_TRUE(result.ok()) << "GET /metrics: " << result.error();
        EXPECT_EQ(result.status(), 200u);
        return parsePrometheusText(result.response.body());
    }

    double metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
        return sumSamples(metrics(), name, labels);
    }

    // Polls `condition` every 10 ms until it holds or `timeout` passes.
    static bool eventually(const std::function<bool()>& condition,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!condition()) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return true;
    }

    // Counters are updated when the gateway finishes with a request, which may be just after
    // the client saw the response: wait for the expected value instead of reading it once.
    ::testing::AssertionResult metricReaches(const std::string& name,
                                             const std::map<std::string, std::string>& labels, double at_least) {
        double last = 0;
        if (eventually([&] { return (last = metric(name, labels)) >= at_least; }))
            return ::testing::AssertionSuccess();
        auto failure = ::testing::AssertionFailure();
        failure << name << "{";
        for (const auto& [k, v] : labels) failure << k << "=\"" << v << "\",";
        failure << "} stayed at " << last << ", expected at least " << at_least;
        return failure;
    }

    // Declared first so the gateway (which talks to it) goes away before it.
    TestUpstream upstream_;
    std::uint16_t down_port_ = 0;
    GatewayConfig config_;
    GatewayProcess gateway_;
};

}  // namespace hotgate::test

// GatewayFixture: one TestUpstream and one hotgate process per test, with the default test
// config (see defaultGatewayConfig) that a test edits in config_ before startGateway().
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "support/child_process.h"
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

    // A gateway that died under a test is a failure of that test, whatever it checked; and
    // any failure shows the gateway's last log lines, which usually say why.
    void TearDown() override {
        if (gateway_.pid() > 0 && !gateway_.signalled() && !gateway_.running()) {
            auto code = gateway_.waitExit(std::chrono::milliseconds(0));
            ADD_FAILURE() << "hotgate died during the test (exit " << code.value_or(-1) << ")";
        }
        if (HasFailure() && gateway_.pid() > 0) {
            std::string err = gateway_.stderrText();
            auto start = err.size() > 4000 ? err.find('\n', err.size() - 4000) : std::string::npos;
            std::cerr << "--- hotgate stderr (tail) ---\n"
                      << (start == std::string::npos ? err : err.substr(start + 1)) << "--- end ---\n";
        }
    }

    ::testing::AssertionResult startGateway() { return gateway_.start(config_); }

    // gwctl against this test's gateway (its control socket and admin port, never the defaults).
    CommandResult gwctl(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        std::vector<std::string> argv{gwctlBinary(), "--control", gateway_.controlSocket().string(), "--admin",
                                      "127.0.0.1:" + std::to_string(adminPort())};
        argv.insert(argv.end(), args.begin(), args.end());
        return runCommand(argv, gateway_.dir(), timeout);
    }

    std::uint16_t port() const { return gateway_.port(); }
    std::uint16_t adminPort() const { return gateway_.adminPort(); }

    // The admin /metrics, parsed; empty with `error` set when it cannot be fetched.
    MetricSamples metrics(std::string* error = nullptr) {
        auto result = httpGet(adminPort(), "/metrics");
        if (!result.ok() || result.status() != 200) {
            if (error)
                *error = result.ok() ? "GET /metrics: status " + std::to_string(result.status())
                                     : "GET /metrics: " + result.error();
            return {};
        }
        return parsePrometheusText(result.response.body());
    }

    double metric(const std::string& name, const std::map<std::string, std::string>& labels = {},
                  std::string* error = nullptr) {
        return sumSamples(metrics(error), name, labels);
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
        std::string error;
        if (eventually([&] {
                error.clear();
                last = metric(name, labels, &error);
                // A gateway that stopped answering will not recover: stop polling.
                return last >= at_least || !error.empty();
            }) &&
            error.empty())
            return ::testing::AssertionSuccess();
        auto failure = ::testing::AssertionFailure();
        if (!error.empty()) return failure << error << " (while waiting for " << name << ")";
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

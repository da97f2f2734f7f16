// HealthViewFixture: a gateway in BPF mode (the health profile needs the real kernel) with
// traffic flowing through it, for the tests of what operators look at: /dashboard in a
// headless browser, `gwctl top`, and the Grafana dashboard's queries against /metrics.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "gateway_fixture.h"

namespace hotgate::test {

class HealthViewFixture : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        config_.workers = 2;
        // The health programs are BPF: without root there is no profile to look at.
        if (::geteuid() != 0) {
            if (std::getenv("HOTGATE_REQUIRE_PRIVILEGED")) FAIL() << "the health profile needs root (CAP_BPF)";
            GTEST_SKIP() << "the health profile needs root (CAP_BPF, tracepoints)";
        }
    }

    void TearDown() override {
        stopTraffic();
        GatewayFixture::TearDown();
    }

    std::string adminAddress() const { return "127.0.0.1:" + std::to_string(adminPort()); }
    std::string adminUrl(const std::string& path) const { return "http://" + adminAddress() + path; }

    // Client traffic in the background until stopTraffic() (or at most `duration`, or 20000
    // requests): a new connection per request, so every request is also a handshake sample,
    // and one request in ten answered 500 by the upstream, so errors have a rate too.
    void startTraffic(std::chrono::seconds duration = std::chrono::seconds(60)) {
        stop_traffic_ = false;
        traffic_ = std::thread([this, duration] {
            const auto deadline = std::chrono::steady_clock::now() + duration;
            for (int i = 0; i < 20000 && !stop_traffic_ && std::chrono::steady_clock::now() < deadline; ++i) {
                auto reply = httpGet(port(), i % 10 == 9 ? "/status/500" : "/traffic", std::chrono::seconds(2));
                if (reply.ok()) requests_sent_++;
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        });
    }

    void stopTraffic() {
        stop_traffic_ = true;
        if (traffic_.joinable()) traffic_.join();
    }

    // The admin /health as JSON; null when it cannot be fetched or parsed (`error` says why).
    nlohmann::json health(std::string* error = nullptr) {
        auto reply = httpGet(adminPort(), "/health");
        if (!reply.ok() || reply.status() != 200) {
            if (error)
                *error = reply.ok()
                             ? "GET /health: status " + std::to_string(reply.status()) + ": " + reply.response.body()
                             : "GET /health: " + reply.error();
            return nullptr;
        }
        auto parsed = nlohmann::json::parse(reply.response.body(), nullptr, false);
        if (parsed.is_discarded()) {
            if (error) *error = "GET /health is not JSON: " + reply.response.body();
            return nullptr;
        }
        return parsed;
    }

    // Waits until /health reports the active version with requests and handshake samples: the
    // data the views show exists before a test looks at a view.
    ::testing::AssertionResult healthHasTraffic(std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
        std::string error;
        nlohmann::json last;
        const bool ok = eventually(
            [&] {
                last = health(&error);
                if (!last.is_object()) return false;
                for (const auto& v : last.value("versions", nlohmann::json::array()))
                    if (v.value("active", false) && v.value("requests_total", 0) > 0 &&
                        v["handshake_us"].value("count", 0) > 0)
                        return true;
                return false;
            },
            timeout);
        if (ok) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure() << "/health never showed requests and handshakes of the active version: "
                                             << (last.is_null() ? error : last.dump());
    }

    std::atomic<bool> stop_traffic_{false};
    std::atomic<int> requests_sent_{0};
    std::thread traffic_;
};

}  // namespace hotgate::test

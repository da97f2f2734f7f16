// Slow and greedy clients: a client that sends its header or body too slowly, one that does not
// read its response, and many that connect and send nothing are each cut off by their timeout,
// and meanwhile hotgate serves a well-behaved client at its normal latency.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

using Clock = std::chrono::steady_clock;

class SlowClientsTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        config_.header_read = "1s";
        config_.body_read = "1s";
        config_.send = "1s";
    }

    // `n` requests on one keep-alive connection; their latencies, sorted. Fails the test on an error.
    std::vector<double> latenciesMs(int n) {
        HttpClient client(port());
        std::vector<double> ms;
        for (int i = 0; i < n; ++i) {
            const auto start = Clock::now();
            auto r = client.get("/well-behaved");
            ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
            EXPECT_TRUE(r.ok() && r.status() == 200u) << (r.ok() ? "status " + std::to_string(r.status()) : r.error());
        }
        std::sort(ms.begin(), ms.end());
        return ms;
    }

    // The well-behaved client's latency while the abuse is in progress, against its own before:
    // the median within 3x (+10 ms of scheduling noise), and no request slower than 500 ms.
    void expectNormalLatency(const std::vector<double>& before, const std::vector<double>& during) {
        const double median_before = before[before.size() / 2];
        const double median_during = during[during.size() / 2];
        EXPECT_LT(median_during, 3 * median_before + 10) << "median " << median_before << " ms -> " << median_during;
        EXPECT_LT(during.back(), 500) << "slowest request during the abuse took " << during.back() << " ms";
    }

    std::map<std::string, std::string> rejected(const std::string& reason) {
        return {{"listener", "public"}, {"reason", reason}};
    }
};

TEST_F(SlowClientsTest, SlowHeadersAreCutOffAt408WhileOthersAreServed) {
    ASSERT_TRUE(startGateway());
    const auto before = latenciesMs(20);
    std::vector<std::unique_ptr<RawConnection>> slow;
    for (int i = 0; i < 50; ++i) {
        slow.push_back(std::make_unique<RawConnection>());
        ASSERT_TRUE(slow.back()->connect(port()));
        ASSERT_TRUE(slow.back()->send("GET /slow-header HTTP/1.1\r\nHost: test\r\nX-Part: "));
    }
    expectNormalLatency(before, latenciesMs(20));
    for (auto& connection : slow) {
        auto reply = connection->readUntilClose(5s);
        EXPECT_EQ(statusOf(reply.data), 408) << reply.data;
        EXPECT_TRUE(reply.closed);
    }
    EXPECT_TRUE(metricReaches("hotgate_rejected_requests_total", rejected("header_timeout"), 50));
}

TEST_F(SlowClientsTest, StalledBodyIs408AndNeverCompletesUpstream) {
    ASSERT_TRUE(startGateway());
    const auto before = latenciesMs(20);
    std::vector<std::unique_ptr<RawConnection>> slow;
    for (int i = 0; i < 20; ++i) {
        slow.push_back(std::make_unique<RawConnection>());
        ASSERT_TRUE(slow.back()->connect(port()));
        // 10 of 100 bytes, then nothing: the first piece is there, so the upstream gets the head.
        ASSERT_TRUE(slow.back()->send("POST /hash HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789"));
    }
    const auto start = Clock::now();
    expectNormalLatency(before, latenciesMs(20));
    for (auto& connection : slow) {
        auto reply = connection->readUntilClose(5s);
        EXPECT_EQ(statusOf(reply.data), 408) << reply.data;
        EXPECT_TRUE(reply.closed);
    }
    EXPECT_GE(Clock::now() - start, 900ms) << "cut off before timeouts.body_read";
    EXPECT_TRUE(metricReaches("hotgate_rejected_requests_total", rejected("body_timeout"), 20));
    // Bodies stream: the upstream got the heads and first pieces, and no request of them whole.
    EXPECT_EQ(upstream_.requestsCompleted(), 40u);  // the well-behaved client's, nothing else
}

TEST_F(SlowClientsTest, ClientThatDoesNotReadIsDroppedAndItsUpstreamConnectionIsNotPooled) {
    ASSERT_TRUE(startGateway());
    const auto before = latenciesMs(20);
    ASSERT_EQ(upstream_.connectionsOpen(), 1u);  // the well-behaved client's, pooled
    RawConnection reader;
    ASSERT_TRUE(reader.connect(port()));
    // 256 MiB of response that the client does not read: the socket buffers fill, the gateway's
    // write stalls, and timeouts.send cuts the connection.
    ASSERT_TRUE(reader.send("GET /chunked?n=4096&size=65536 HTTP/1.1\r\nHost: test\r\n\r\n"));
    std::this_thread::sleep_for(300ms);
    expectNormalLatency(before, latenciesMs(20));
    // The stalled response's upstream connection is closed, not pooled: only the well-behaved
    // client's stays open.
    EXPECT_TRUE(eventually([&] { return upstream_.connectionsOpen() == 1; }, 10s))
        << upstream_.connectionsOpen() << " upstream connections open";
    // What the client finds when it reads at last: a cut response (a few MB of buffers, not
    // 256 MiB) and the close.
    auto rest = reader.readUntilClose(30s);
    EXPECT_TRUE(rest.closed) << "a client that read nothing outlived timeouts.send";
    EXPECT_LT(rest.data.size(), 64u << 20);
    auto after = httpGet(port(), "/after");
    ASSERT_TRUE(after.ok()) << after.error();
    EXPECT_EQ(after.status(), 200u);
    EXPECT_EQ(after.response.body(), "ok /after\n");
}

TEST_F(SlowClientsTest, ConnectionsThatSendNothingAreClosedAfterHeaderReadWhileOthersAreServed) {
    ASSERT_TRUE(startGateway());
    const auto before = latenciesMs(20);
    std::vector<std::unique_ptr<RawConnection>> idle;
    for (int i = 0; i < 200; ++i) {
        idle.push_back(std::make_unique<RawConnection>());
        ASSERT_TRUE(idle.back()->connect(port()));
    }
    expectNormalLatency(before, latenciesMs(20));
    for (auto& connection : idle) {
        auto reply = connection->readUntilClose(5s);
        EXPECT_TRUE(reply.closed) << "a connection that sent nothing outlived timeouts.header_read";
    }
    EXPECT_TRUE(metricReaches("hotgate_rejected_requests_total", rejected("header_timeout"), 200));
}

TEST_F(SlowClientsTest, ConnectionsBeyondMaxConnectionsAreRefusedWhileHeldOnesStayServed) {
    config_.max_connections = "50";
    config_.header_read = "30s";
    ASSERT_TRUE(startGateway());
    ASSERT_TRUE(eventually([&] { return metric("hotgate_active_connections", {{"listener", "public"}}) == 0; }));
    HttpClient held(port());  // a well-behaved client that got in first
    auto first = held.get("/first");
    ASSERT_TRUE(first.ok()) << first.error();
    std::vector<std::unique_ptr<RawConnection>> idle;
    for (int i = 0; i < 49; ++i) {
        idle.push_back(std::make_unique<RawConnection>());
        ASSERT_TRUE(idle.back()->connect(port()));
    }
    ASSERT_TRUE(eventually([&] { return metric("hotgate_active_connections", {{"listener", "public"}}) == 50; }));
    auto refused = rawExchange(port(), "GET /over HTTP/1.1\r\nHost: test\r\n\r\n");
    EXPECT_EQ(statusOf(refused.data), 503) << refused.data;
    for (int i = 0; i < 20; ++i) {
        const auto start = Clock::now();
        auto r = held.get("/held");
        ASSERT_TRUE(r.ok()) << r.error();
        EXPECT_EQ(r.status(), 200u);
        EXPECT_LT(Clock::now() - start, 500ms);
    }
    EXPECT_EQ(held.connects(), 1);
}

}  // namespace
}  // namespace hotgate::test

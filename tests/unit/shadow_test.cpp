// gwctl verify's parts without processes (docs/verification.md): which requests may be
// mirrored, the tap's sample quota, how two answers compare, the report, the Verify request,
// and one real exchange over a loopback shadow path.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "control/verify_request.h"
#include "shadow/shadow_client.h"
#include "shadow/shadow_report.h"
#include "shadow/shadow_tap.h"

namespace hotgate::shadow {
namespace {

using namespace std::chrono_literals;

Answer answer(unsigned status, std::string body_hash, std::chrono::microseconds latency,
              std::map<std::string, std::string> fields = {}) {
    Answer a;
    a.status = status;
    a.body_sha256 = std::move(body_hash);
    a.latency = latency;
    a.fields = std::move(fields);
    return a;
}

TEST(ShadowMethods, OnlySafeMethodsUnlessTheRouteIsMarked) {
    EXPECT_TRUE(mirrorable("GET", false));
    EXPECT_TRUE(mirrorable("HEAD", false));
    EXPECT_FALSE(mirrorable("POST", false));
    EXPECT_FALSE(mirrorable("PUT", false));
    EXPECT_TRUE(mirrorable("POST", true));
    EXPECT_TRUE(idempotentMethod("PUT"));
    EXPECT_TRUE(idempotentMethod("DELETE"));
    EXPECT_FALSE(idempotentMethod("POST"));
    EXPECT_FALSE(idempotentMethod("PATCH"));
    EXPECT_FALSE(idempotentMethod("get"));  // methods are case-sensitive (RFC 9110 9.1)
}

TEST(ShadowTap, TakesAsManySamplesAsAskedOfTheRoutesNamed) {
    ShadowTap tap;
    EXPECT_FALSE(tap.armed());
    EXPECT_FALSE(tap.reserve("api"));
    tap.arm(2, {"api"});
    EXPECT_TRUE(tap.armed());
    EXPECT_FALSE(tap.reserve("static"));
    ASSERT_TRUE(tap.reserve("api"));
    tap.offer({"api", "GET", "/1", "GET /1 HTTP/1.1\r\n\r\n"});
    ASSERT_TRUE(tap.reserve("api"));
    EXPECT_FALSE(tap.armed()) << "both samples are reserved: requests stop paying for the copy";
    tap.release();  // the second could not be copied: another request may take its place
    EXPECT_TRUE(tap.armed());
    ASSERT_TRUE(tap.reserve("api"));
    tap.offer({"api", "GET", "/3", "GET /3 HTTP/1.1\r\n\r\n"});
    const auto deadline = std::chrono::steady_clock::now() + 1s;
    EXPECT_EQ(tap.next(deadline)->target, "/1");
    EXPECT_EQ(tap.next(deadline)->target, "/3");
    const auto before = std::chrono::steady_clock::now();
    EXPECT_FALSE(tap.next(deadline)) << "every sample was handed out";
    EXPECT_LT(std::chrono::steady_clock::now() - before, 500ms) << "no wait for samples that cannot come";
}

TEST(ShadowTap, DisarmingDropsWhatWasNotTakenAndRefusesLateOffers) {
    ShadowTap tap;
    tap.arm(3, {});
    ASSERT_TRUE(tap.reserve("any"));
    ASSERT_TRUE(tap.reserve("other"));
    tap.offer({"any", "GET", "/", "x"});
    tap.disarm();
    tap.offer({"other", "GET", "/", "x"});  // its request ended after the verification
    EXPECT_FALSE(tap.armed());
    EXPECT_FALSE(tap.next(std::chrono::steady_clock::now() + 100ms));
}

TEST(ShadowTap, AWaitingVerifierWakesForAnOffer) {
    ShadowTap tap;
    tap.arm(1, {});
    std::thread worker([&] {
        std::this_thread::sleep_for(50ms);
        if (tap.reserve("api")) tap.offer({"api", "GET", "/late", "x"});
    });
    auto capture = tap.next(std::chrono::steady_clock::now() + 5s);
    worker.join();
    ASSERT_TRUE(capture);
    EXPECT_EQ(capture->target, "/late");
}

TEST(ShadowCompare, StatusBodyAndFieldsMustBeEqual) {
    Tolerance tolerance{{"content-type"}, 0.1, 5ms};
    const auto a = answer(200, "aa", 1000us, {{"content-type", "text/plain"}});
    EXPECT_FALSE(compare(a, a).any());
    auto b = a;
    b.status = 503;
    EXPECT_TRUE(compare(a, b).status);
    b = a;
    b.body_sha256 = "bb";
    EXPECT_TRUE(compare(a, b).body);
    EXPECT_EQ(describe(compare(a, b), a, b), "body aa vs bb");
    b = a;
    b.fields["content-type"] = "";
    const auto d = compare(a, b);
    EXPECT_TRUE(d.fields);
    EXPECT_EQ(describe(d, a, b), "content-type text/plain vs (absent)");
}

TEST(ShadowCompare, LatencyWithinTheShareOrTheFloorWhicheverIsMore) {
    Tolerance tolerance{{}, 0.1, 5ms};
    EXPECT_TRUE(latencyWithin(1.0, 5.9, tolerance)) << "4.9 ms apart: within the floor";
    EXPECT_FALSE(latencyWithin(1.0, 6.1, tolerance));
    EXPECT_TRUE(latencyWithin(100, 109, tolerance)) << "9%: within 10%";
    EXPECT_FALSE(latencyWithin(100, 111, tolerance));
    EXPECT_FALSE(latencyWithin(100, 89, tolerance)) << "the tolerance is both ways";
}

TEST(ShadowCompare, NoAnswerIsAStatusMismatchOnly) {
    Tolerance tolerance{{"content-type"}, 0.1, 5ms};
    const auto a = answer(200, "aa", 1ms, {{"content-type", "text/plain"}});
    Answer none;
    none.error = "timed out";
    const auto d = compare(a, none);
    EXPECT_TRUE(d.status);
    EXPECT_FALSE(d.body || d.fields);
    EXPECT_EQ(describe(d, a, none), "status 200 vs none (timed out)");
}

TEST(ShadowReport, TalliesByRouteWithPercentilesAndSurvivesJson) {
    Tolerance tolerance{{}, 0.1, 5ms};
    ShadowReport report;
    report.running = "a (pid 1)";
    report.other = "b (pid 2)";
    report.requested = 4;
    const Capture pay{"pay", "GET", "/pay", "x"};
    const Capture home{"home", "GET", "/", "x"};
    for (int i = 1; i <= 3; ++i) {
        const auto ours = answer(200, "h", std::chrono::milliseconds(i));
        report.add(pay, ours, ours, compare(ours, ours));
    }
    const auto ours = answer(200, "h", 1ms);
    const auto theirs = answer(500, "h", 1ms);
    report.add(home, ours, theirs, compare(ours, theirs));
    report.finish(tolerance);
    EXPECT_EQ(report.samples(), 4u);
    EXPECT_EQ(report.mismatches(), 1u);
    EXPECT_EQ(report.slowRoutes(), 0u);
    ASSERT_EQ(report.routes.size(), 2u);
    EXPECT_EQ(report.routes[0].route, "home") << "sorted by route";
    EXPECT_EQ(report.routes[0].status, 1u);
    EXPECT_EQ(report.routes[1].running_p50_ms, 2.0);
    EXPECT_EQ(report.routes[1].running_p99_ms, 3.0);
    EXPECT_EQ(report.routes[1].latency, "ok");
    ASSERT_EQ(report.examples.size(), 1u);
    EXPECT_EQ(report.examples[0], "GET / (home): status 200 vs 500");

    auto back = ShadowReport::fromJson(report.toJson());
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->samples(), 4u);
    EXPECT_EQ(back->mismatches(), 1u);
    EXPECT_EQ(back->table(), report.table());
    const auto table = report.table();
    EXPECT_NE(table.find("compared a (pid 1) with b (pid 2): 4 of 4 samples, 1 mismatched\n"), std::string::npos) << table;
    EXPECT_NE(table.find("mismatch: GET / (home): status 200 vs 500"), std::string::npos) << table;

    auto broken = report.toJson();
    broken["kind"] = "guess";
    EXPECT_FALSE(ShadowReport::fromJson(broken));
    broken = report.toJson();
    broken["routes"][0].erase("samples");
    EXPECT_FALSE(ShadowReport::fromJson(broken));
}

// Latency is judged per route, on p50 and p99: single slow answers are noise, a slower route
// is a regression.
TEST(ShadowReport, ARouteWhosePercentilesMovedIsOutOfTolerance) {
    Tolerance tolerance{{}, 0.1, 5ms};
    ShadowReport report;
    report.requested = 200;
    const Capture api{"api", "GET", "/api", "x"};
    const Capture slow{"slow", "GET", "/slow", "x"};
    for (int i = 0; i < 100; ++i) {
        // api: one answer in a hundred of the new version 9 ms late: p50 and p99 stay within 5 ms.
        const auto ours = answer(200, "h", 1ms);
        const auto theirs = answer(200, "h", i == 50 ? 10ms : 1ms);
        report.add(api, ours, theirs, compare(ours, theirs));
        // slow: every answer of the new version 20 ms later.
        const auto before = answer(200, "h", 10ms);
        const auto after = answer(200, "h", 30ms);
        report.add(slow, before, after, compare(before, after));
    }
    report.finish(tolerance);
    EXPECT_EQ(report.mismatches(), 0u);
    EXPECT_EQ(report.slowRoutes(), 1u);
    EXPECT_EQ(report.routes[0].latency, "ok");
    EXPECT_EQ(report.routes[1].latency, "p50 p99");
    ASSERT_EQ(report.examples.size(), 1u);
    EXPECT_EQ(report.examples[0],
              "route slow: latency p50 10.0ms vs 30.0ms, p99 10.0ms vs 30.0ms: beyond 10.0% or 5.0ms");
    EXPECT_NE(report.table().find("200 of 200 samples, 0 mismatched, latency out of tolerance on 1 route(s)"),
              std::string::npos)
        << report.table();
}

TEST(VerifyRequest, RoundTripsAndNamesWhatIsWrong) {
    control::VerifyRequest request;
    request.samples = 25;
    request.routes = {"pay"};
    request.timeout = 5s;
    request.replay = true;
    auto back = control::VerifyRequest::fromJson(request.toJson());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->samples, 25u);
    EXPECT_EQ(back->routes, std::vector<std::string>{"pay"});
    EXPECT_EQ(back->timeout, 5s);
    EXPECT_TRUE(back->replay);
    auto defaults = control::VerifyRequest::fromJson(nlohmann::json::object());
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults->samples, 100u);

    const std::pair<const char*, const char*> wrong[] = {
        {R"({"samples": 0})", "samples"},
        {R"({"samples": 10001})", "samples"},
        {R"({"samples": "ten"})", "samples"},
        {R"({"routes": "pay"})", "routes"},
        {R"({"routes": [""]})", "routes"},
        {R"({"timeout_ms": -1})", "timeout_ms"},
        {R"({"replay": "yes"})", "replay"},
        {R"([1])", "object"},
    };
    for (const auto& [payload, field] : wrong) {
        auto parsed = control::VerifyRequest::fromJson(nlohmann::json::parse(payload));
        ASSERT_FALSE(parsed) << payload;
        EXPECT_NE(parsed.error().message.find(field), std::string::npos) << parsed.error().message;
    }
}

// A real loopback pair: the path sends the request as captured and reads a keep-alive answer,
// then a second one on the same connection, then notices the server's close and reconnects.
TEST(ShadowPath, ExchangesOverALoopbackPairAndReconnectsWhenClosed) {
    std::vector<std::thread> servers;
    int opened = 0;
    auto serve = [](UniqueFd fd, std::vector<std::string> answers) {
        std::string received;
        char buffer[4096];
        for (const auto& a : answers) {
            while (received.find("\r\n\r\n") == std::string::npos) {
                const ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
                if (n <= 0) return;
                received.append(buffer, static_cast<std::size_t>(n));
            }
            received.erase(0, received.find("\r\n\r\n") + 4);
            (void)!::send(fd.get(), a.data(), a.size(), MSG_NOSIGNAL);
        }
    };
    std::optional<ShadowPath> path;
    path.emplace("test", [&]() -> Result<UniqueFd> {
        auto pair = loopbackPair();
        if (!pair) return tl::unexpected(pair.error());
        ++opened;
        std::vector<std::string> answers{
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"};
        servers.emplace_back(serve, std::move(pair->server), std::move(answers));
        return std::move(pair->client);
    });
    const Capture get{"r", "GET", "/", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"};
    const auto first = path->exchange(get, {"content-type", "x-absent"}, 2s);
    EXPECT_EQ(first.status, 200u) << first.error;
    EXPECT_EQ(first.body_sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // sha256("abc")
    EXPECT_EQ(first.fields.at("content-type"), "text/plain");
    EXPECT_EQ(first.fields.at("x-absent"), "");
    const auto second = path->exchange(get, {}, 2s);
    EXPECT_EQ(second.status, 404u) << "the 100 Continue is not the answer";
    const auto third = path->exchange(get, {}, 2s);
    EXPECT_EQ(third.status, 200u) << third.error;
    EXPECT_EQ(opened, 2) << "a new path after the server closed the first";
    path.reset();  // closes the second path: its server stops waiting for a request
    for (auto& server : servers) server.join();
}

}  // namespace
}  // namespace hotgate::shadow

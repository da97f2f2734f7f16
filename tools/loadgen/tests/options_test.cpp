// Options: loopback-only targets, required bounds and hard caps.
#include <gtest/gtest.h>

#include "options.h"

namespace hotgate::loadgen {
namespace {

TEST(OptionsTest, AcceptsOnlyLoopbackTargets) {
    EXPECT_TRUE(parseLoopbackTarget("127.0.0.1:8080"));
    EXPECT_TRUE(parseLoopbackTarget("127.1.2.3:1"));
    EXPECT_TRUE(parseLoopbackTarget("[::1]:8080"));
    EXPECT_EQ(parseLoopbackTarget("localhost:80")->address().to_string(), "127.0.0.1");
    for (const char* bad : {"10.0.0.1:80", "0.0.0.0:80", "192.168.1.1:80", "[::]:80", "[2001:db8::1]:80", "[::ffff:127.0.0.1]:80",
                            "example.com:80", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x", "::1:80", ""}) {
        const auto parsed = parseLoopbackTarget(bad);
        EXPECT_FALSE(parsed) << bad;
    }
    EXPECT_NE(parseLoopbackTarget("10.0.0.1:80").error().find("loopback"), std::string::npos);
}

TEST(OptionsTest, PrivateTargetsOnlyWithNetnsTarget) {
    EXPECT_EQ(parsePrivateTarget("10.78.0.1:8080")->address().to_string(), "10.78.0.1");
    EXPECT_TRUE(parsePrivateTarget("172.31.255.1:80"));
    EXPECT_TRUE(parsePrivateTarget("192.168.3.4:80"));
    EXPECT_TRUE(parsePrivateTarget("127.0.0.1:80"));
    for (const char* bad : {"8.8.8.8:53", "172.32.0.1:80", "11.0.0.1:80", "0.0.0.0:80", "[2001:db8::1]:80", "[fd00::1]:80",
                            "192.169.0.1:80", "10.0.0.1"}) {
        EXPECT_FALSE(parsePrivateTarget(bad)) << bad;
    }
    Options options;
    options.target_text = "10.78.0.1:8080";
    options.duration_s = 1;
    options.rate = 1;
    EXPECT_FALSE(validate(options)) << "a private target without --netns-target";
    options.netns_target = true;
    // The tests run in the host's namespace: refused there, whatever the address.
    if (!inIsolatedNetworkNamespace()) {
        const auto result = validate(options);
        ASSERT_FALSE(result);
        EXPECT_NE(result.error().find("--netns-target refused"), std::string::npos) << result.error();
    } else {
        EXPECT_TRUE(validate(options));
    }
}

TEST(OptionsTest, ValidateEnforcesBoundsAndCaps) {
    const auto base = [] {
        Options options;
        options.target_text = "127.0.0.1:8080";
        options.duration_s = 10;
        options.rate = 100;
        return options;
    };
    Options ok = base();
    EXPECT_TRUE(validate(ok));
    EXPECT_EQ(ok.target.port(), 8080);

    const auto rejects = [&](auto change, const char* what) {
        Options options = base();
        change(options);
        const auto result = validate(options);
        EXPECT_FALSE(result) << what;
        if (!result) {
            EXPECT_FALSE(result.error().empty());
        }
    };
    rejects([](Options& o) { o.duration_s = 0; }, "no duration");
    rejects([](Options& o) { o.duration_s = kMaxDurationS + 1; }, "duration over cap");
    rejects([](Options& o) { o.rate = kMaxRate + 1; }, "rate over cap");
    rejects([](Options& o) { o.keepalive = kMaxKeepalive + 1; }, "keepalive over cap");
    rejects([](Options& o) { o.streams = kMaxStreams + 1; }, "streams over cap");
    rejects([](Options& o) { o.threads = 0; }, "no threads");
    rejects([](Options& o) { o.threads = kMaxThreads + 1; }, "threads over cap");
    rejects([](Options& o) { o.timeout_ms = 0; }, "zero timeout");
    rejects([](Options& o) { o.pause_min_ms = 300; }, "min pause over max");
    rejects([](Options& o) { o.rate = 0; }, "nothing to do");
    rejects([](Options& o) { o.path = "no-slash"; }, "relative path");
    rejects([](Options& o) { o.path = "/a b"; }, "space in path");
    rejects([](Options& o) { o.target_text = "10.1.1.1:80"; }, "remote target");
}

}  // namespace
}  // namespace hotgate::loadgen

// Request smuggling: framing that two HTTP parsers could read differently is refused with 400
// and the connection closed, and nothing of it reaches the upstream. Each case is sent as
// exact bytes and carries a second request that must never be seen.
#include <gtest/gtest.h>

#include "gateway_fixture.h"

namespace hotgate::test {
namespace {

const std::string kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n";

class SmugglingTest : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        ASSERT_TRUE(startGateway());
    }

    // Sends `bytes` as the first request on a fresh connection and checks the refusal. With
    // `header_level`, the gateway can tell from the header alone, so not even the request
    // header may reach the upstream; otherwise no complete request may.
    void expectRefused(const std::string& bytes, bool header_level = true) {
        auto reply = rawExchange(port(), bytes);
        EXPECT_EQ(statusOf(reply.data), 400) << "reply:\n" << reply.data;
        EXPECT_EQ(responseCount(reply.data), 1) << "more than one response:\n" << reply.data;
        EXPECT_TRUE(reply.closed) << "connection left open after the 400";
        if (header_level) {
            EXPECT_EQ(upstream_.requestHeadersSeen(), 0u) << "the request header reached the upstream";
        }
        EXPECT_EQ(upstream_.requestsCompleted(), 0u) << "a request reached the upstream";
        for (const auto& seen : upstream_.requests()) EXPECT_NE(seen.target, "/smuggled");
        EXPECT_TRUE(metricReaches("hotgate_rejected_requests_total",
                                  {{"listener", "public"}, {"reason", "bad_request"}}, 1));
    }
};

TEST_F(SmugglingTest, ContentLengthAndTransferEncodingTogether) {
    std::string body = "0\r\n\r\n" + kSmuggled;
    expectRefused("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
}

TEST_F(SmugglingTest, DifferingDuplicateContentLength) {
    expectRefused("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nContent-Length: " +
                  std::to_string(5 + kSmuggled.size()) + "\r\n\r\nhello" + kSmuggled);
}

TEST_F(SmugglingTest, DifferingContentLengthList) {
    expectRefused("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5, " + std::to_string(5 + kSmuggled.size()) +
                  "\r\n\r\nhello" + kSmuggled);
}

TEST_F(SmugglingTest, BadChunkSize) {
    // Only the body is wrong, so a streaming gateway may already have passed the header on;
    // the request must still never complete upstream.
    expectRefused("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "zz\r\nhello\r\n0\r\n\r\n" + kSmuggled,
                  /*header_level=*/false);
}

TEST_F(SmugglingTest, ChunkSizeOverflow) {
    expectRefused("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "10000000000000005\r\nhello\r\n0\r\n\r\n" + kSmuggled,
                  /*header_level=*/false);
}

TEST_F(SmugglingTest, ObsoleteLineFolding) {
    expectRefused("GET /echo HTTP/1.1\r\nHost: test\r\nX-Folded: first\r\n second\r\n\r\n" + kSmuggled);
}

TEST_F(SmugglingTest, ObsoleteLineFoldingOfTransferEncoding) {
    std::string body = "0\r\n\r\n" + kSmuggled;
    expectRefused("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nX-Pad: a\r\n Transfer-Encoding: chunked\r\n\r\n" + body);
}

TEST_F(SmugglingTest, BareLineFeedInHeaders) {
    expectRefused("GET /echo HTTP/1.1\r\nHost: test\nX-Bare: lf\r\n\r\n" + kSmuggled);
}

TEST_F(SmugglingTest, BareLineFeedAfterRequestLine) {
    expectRefused("GET /echo HTTP/1.1\nHost: test\r\n\r\n" + kSmuggled);
}

TEST_F(SmugglingTest, TransferEncodingNotEndingInChunked) {
    expectRefused("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
                  "0\r\n\r\n" + kSmuggled);
}

TEST_F(SmugglingTest, UnknownTransferEncoding) {
    expectRefused("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n" + kSmuggled);
}

TEST_F(SmugglingTest, CleanRequestAfterARefusalOnAnotherConnectionStillWorks) {
    auto reply = rawExchange(port(), "GET /echo HTTP/1.1\r\nHost: test\nX: y\r\n\r\n");
    EXPECT_EQ(statusOf(reply.data), 400) << reply.data;
    auto ok = httpGet(port(), "/fine");
    ASSERT_TRUE(ok.ok()) << ok.error();
    EXPECT_EQ(ok.status(), 200u);
    EXPECT_EQ(upstream_.requestsCompleted(), 1u);
}

}  // namespace
}  // namespace hotgate::test

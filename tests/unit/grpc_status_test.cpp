// gRPC as hotgate reads and writes it (proxy/h2/grpc_status.h), against the gRPC
// "PROTOCOL-HTTP2" document: content-type, grpc-timeout units and bounds, grpc-status in the
// trailers or in a Trailers-Only head, percent-encoded grpc-message, and the statuses of
// hotgate's own refusals.
#include <gtest/gtest.h>

#include "proxy/h2/grpc_status.h"

namespace hotgate::grpc {
namespace {

using namespace std::chrono_literals;

http::request_header<> withType(std::string_view type) {
    http::request_header<> request;
    if (!type.empty()) request.set(http::field::content_type, type);
    return request;
}

TEST(GrpcRequest, IsApplicationGrpcWithOrWithoutASuffix) {
    EXPECT_TRUE(isGrpcRequest(withType("application/grpc")));
    EXPECT_TRUE(isGrpcRequest(withType("application/grpc+proto")));
    EXPECT_TRUE(isGrpcRequest(withType("application/grpc;charset=utf-8")));
    EXPECT_TRUE(isGrpcRequest(withType("Application/GRPC")));
    EXPECT_FALSE(isGrpcRequest(withType("application/grpc-web")));
    EXPECT_FALSE(isGrpcRequest(withType("application/json")));
    EXPECT_FALSE(isGrpcRequest(withType("")));
}

TEST(GrpcTimeout, TakesEveryUnitAndRefusesWhatTheSpecDoesNotAllow) {
    EXPECT_EQ(parseTimeout("1H"), std::chrono::milliseconds(3'600'000));
    EXPECT_EQ(parseTimeout("2M"), std::chrono::milliseconds(120'000));
    EXPECT_EQ(parseTimeout("3S"), std::chrono::milliseconds(3'000));
    EXPECT_EQ(parseTimeout("250m"), std::chrono::milliseconds(250));
    EXPECT_EQ(parseTimeout("1500u"), std::chrono::milliseconds(2));  // rounded up: never sooner than asked
    EXPECT_EQ(parseTimeout("1n"), std::chrono::milliseconds(1));
    EXPECT_EQ(parseTimeout("99999999m"), std::chrono::milliseconds(99'999'999));  // 8 digits at most
    EXPECT_EQ(parseTimeout("123456789m"), std::nullopt);
    EXPECT_EQ(parseTimeout("10"), std::nullopt);    // no unit
    EXPECT_EQ(parseTimeout("m"), std::nullopt);     // no digits
    EXPECT_EQ(parseTimeout("-1S"), std::nullopt);
    EXPECT_EQ(parseTimeout("1s"), std::nullopt);    // units are case-sensitive: s is not S
    EXPECT_EQ(parseTimeout(""), std::nullopt);
}

TEST(GrpcStatus, ComesFromTheTrailersElseFromATrailersOnlyHead) {
    const std::vector<h2::Field> head{{"content-type", "application/grpc"}};
    EXPECT_EQ(statusOf(head, {{"grpc-status", "0"}}), 0u);
    EXPECT_EQ(statusOf(head, {{"grpc-message", "x"}, {"grpc-status", "14"}}), 14u);
    EXPECT_EQ(statusOf({{"grpc-status", "5"}}, {}), 5u);
    EXPECT_EQ(statusOf({{"grpc-status", "5"}}, {{"grpc-status", "3"}}), 3u);
    EXPECT_EQ(statusOf(head, {}), kNoStatus);
    EXPECT_EQ(statusOf(head, {{"grpc-status", "17"}}), kNoStatus);  // outside 0..16
    EXPECT_EQ(statusOf(head, {{"grpc-status", "1a"}}), kNoStatus);
    EXPECT_EQ(statusOf(head, {{"grpc-status", ""}}), kNoStatus);
}

TEST(GrpcStatus, OwnRefusalsMapAsTheIssueAndTheSpecSay) {
    EXPECT_EQ(codeForRefusal(503, false), Code::Unavailable);  // no healthy endpoint
    EXPECT_EQ(codeForRefusal(502, false), Code::Unavailable);  // connect failed, reset
    EXPECT_EQ(codeForRefusal(504, false), Code::DeadlineExceeded);
    EXPECT_EQ(codeForRefusal(429, false), Code::ResourceExhausted);
    EXPECT_EQ(codeForRefusal(503, true), Code::ResourceExhausted);  // shed or a cluster limit
    EXPECT_EQ(codeForRefusal(404, false), Code::Unimplemented);
    EXPECT_EQ(codeForRefusal(413, false), Code::Internal);
}

TEST(GrpcStatus, MessagesArePercentEncoded) {
    const auto fields = statusFields(Code::Unavailable, "50% gone\n\xc3\xa9");
    ASSERT_EQ(fields.size(), 2u);
    EXPECT_EQ(fields[0].name, "grpc-status");
    EXPECT_EQ(fields[0].value, "14");
    EXPECT_EQ(fields[1].name, "grpc-message");
    EXPECT_EQ(fields[1].value, "50%25 gone%0A%C3%A9");
}

}  // namespace
}  // namespace hotgate::grpc

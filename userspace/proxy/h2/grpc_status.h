// gRPC over HTTP/2 as a proxy sees it (the gRPC "PROTOCOL-HTTP2" document): which requests are
// gRPC, their grpc-timeout, the status of a response (grpc-status in its trailers, or in its
// only HEADERS frame), and the status hotgate answers with for its own errors
// (docs/http2.md, "gRPC").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/asio.h"
#include "proxy/h2/message_translation.h"

namespace hotgate::grpc {

// The status codes hotgate produces itself (the others pass through as numbers).
enum class Code : std::uint32_t {
    Ok = 0,
    DeadlineExceeded = 4,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
};
inline constexpr std::uint32_t kCodeCount = 17;    // 0 (OK) to 16 (UNAUTHENTICATED)
inline constexpr std::uint32_t kNoStatus = 0xffffffff;  // no (valid) grpc-status

// content-type application/grpc, alone or with a suffix ("+proto", ";charset=...").
bool isGrpcRequest(const http::request_header<>& request);

// grpc-timeout: 1 to 8 digits and a unit (H, M, S, m, u, n); nullopt when absent or malformed.
std::optional<std::chrono::milliseconds> parseTimeout(std::string_view value);

// The grpc-status of a response: from `trailers`, else from `head` (Trailers-Only); kNoStatus
// when neither has a valid one.
std::uint32_t statusOf(const std::vector<h2::Field>& head, const std::vector<h2::Field>& trailers);

// The status hotgate answers for its own refusal `http_status`: 504 DEADLINE_EXCEEDED; 429
// and limit refusals (`limit`: a rate limit, the breaker's shedding, a cluster limit)
// RESOURCE_EXHAUSTED; 404 UNIMPLEMENTED; 400, 408, 413, 431 INTERNAL; the rest (502, 503 with
// no endpoint) UNAVAILABLE.
Code codeForRefusal(unsigned http_status, bool limit);

// grpc-status and grpc-message fields (the message percent-encoded as the spec asks).
std::vector<h2::Field> statusFields(Code code, std::string_view message);

}  // namespace hotgate::grpc

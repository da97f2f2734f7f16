// Admission: whether a request a route took may go on, by the route's circuit breaker level and
// rate limit (docs/protection.md). Decided once the head is read, before the body is read or
// an upstream is picked, so a refused request costs no upstream work.
#pragma once

#include <cstdint>
#include <string_view>

#include "proxy/asio.h"
#include "proxy/route_protection.h"

namespace hotgate {

enum class Admission : std::uint8_t {
    Admitted,
    RateLimited,  // 429, Retry-After
    ShedL2,       // 503, x-hotgate-shed: L2 (shed_percent of a route's requests at L2, critical at L3)
    ShedL3,       // 503, x-hotgate-shed: L3 (every request of a non-critical route at L3)
};

inline constexpr std::string_view kShedField = "x-hotgate-shed";

struct AdmissionVerdict {
    Admission admission = Admission::Admitted;
    std::uint64_t retry_after_s = 0;  // RateLimited: when the key's bucket holds a token again
};

// Counts the request for the route's breaker and decides. The breaker refuses first (a shed
// request spends no token); each refusal is counted in `route.refusals`.
AdmissionVerdict admit(const RouteProtection& route, protection::SharedBuckets& buckets,
                       const http::request_header<>& request, std::string_view client_ip);

}  // namespace hotgate

#include "proxy/route_admission.h"

#include "proxy/lb/key_hash.h"

namespace hotgate {
namespace {

// Sheds exactly `percent` of the calls on this thread: an accumulator, not a coin, so a short
// burst sheds its share too.
bool shedShare(unsigned percent) {
    thread_local unsigned accumulated = 0;
    accumulated += percent;
    if (accumulated < 100) return false;
    accumulated -= 100;
    return true;
}

std::string_view keyOf(const RateLimitKey& key, const http::request_header<>& request, std::string_view client_ip) {
    switch (key.kind) {
        case RateLimitKey::Kind::ClientIp: return client_ip;
        case RateLimitKey::Kind::Route: return {};
        case RateLimitKey::Kind::Header: {
            const auto found = request.find(key.name);
            return found == request.end() ? std::string_view() : std::string_view(found->value());
        }
    }
    return {};
}

}  // namespace

AdmissionVerdict admit(const RouteProtection& route, protection::SharedBuckets& buckets,
                       const http::request_header<>& request, std::string_view client_ip) {
    if (route.breaker) {
        protection::BreakerBoard::countOffered(*route.breaker);
        const auto level = protection::BreakerBoard::level(*route.breaker);
        if (level == protection::BreakerLevel::L3 && !route.critical) {
            route.refusals->shed_l3.fetch_add(1, std::memory_order_relaxed);
            return {Admission::ShedL3, 0};
        }
        if (level >= protection::BreakerLevel::L2 && shedShare(route.breaker_config.shed_percent)) {
            route.refusals->shed_l2.fetch_add(1, std::memory_order_relaxed);
            return {Admission::ShedL2, 0};
        }
    }
    if (route.limit) {
        std::uint64_t key = lb::seededHash(keyOf(route.key, request, client_ip), route.bucket_seed);
        if (key == 0) key = 1;
        const std::uint64_t now = protection::SharedBuckets::nowMs();
        if (!buckets.take(key, *route.limit, now)) {
            route.refusals->rate_limited.fetch_add(1, std::memory_order_relaxed);
            const std::uint64_t wait_ms = buckets.msUntilToken(key, *route.limit, now);
            return {Admission::RateLimited, std::max<std::uint64_t>(1, (wait_ms + 999) / 1000)};
        }
    }
    return {};
}

}  // namespace hotgate

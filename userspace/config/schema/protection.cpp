// Adaptive protection (docs/protection.md): a route's rate limit, and the circuit breaker's
// settings at the top level (`circuit_breaker:`) and per route (each key overrides the top
// level's).
#include "config/schema/protection_values.h"
#include "config/schema/tables.h"

namespace hotgate::schema {
namespace {

constexpr std::chrono::milliseconds kMinSampleInterval{100};

// window holds between 2 and CircuitBreakerConfig's most samples (protection/breaker_board.h).
void checkTiming(Reader& reader, const YAML::Node& map, const std::string& path, const CircuitBreakerConfig& cb) {
    if (cb.sample_interval < kMinSampleInterval) {
        reader.problem(map, Reader::join(path, "sample_interval"),
                       "must be at least 100ms, got " + std::to_string(cb.sample_interval.count()) + "ms");
        return;
    }
    const auto samples = cb.window / cb.sample_interval;
    if (samples < 2 || samples > kMaxBreakerSamples)
        reader.problem(map, Reader::join(path, "window"),
                       "must hold 2 to " + std::to_string(kMaxBreakerSamples) + " sample_intervals, got " +
                           std::to_string(cb.window.count()) + "ms for a sample_interval of " +
                           std::to_string(cb.sample_interval.count()) + "ms");
}

}  // namespace

Table<RateLimitConfig> rateLimitTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"requests_per_second", &RateLimitConfig::requests_per_second, Number{0.001, 1'000'000}, kRequired, InPlace,
         "tokens added to each key's bucket per second"},
        {"burst", &RateLimitConfig::burst, Integer{1, kMaxRateLimitBurst}, kRequired, InPlace,
         "tokens a bucket holds at most: requests a key may send at once after a quiet period"},
        {"key", &RateLimitConfig::key, RateLimitKeyValue{}, "client_ip", InPlace,
         "what has its own bucket; a request without the header shares one bucket with the others without it"},
    }};
}

Table<CircuitBreakerConfig> circuitBreakerTable() {
    using enum Applies;
    Table<CircuitBreakerConfig> table{{
        // key, member, type and bounds, default, applies, doc
        {"enabled", &CircuitBreakerConfig::enabled, Boolean{}, Default::addedLater("false"), InPlace,
         "sample every route and shed load by level (L1 log, L2 shed_percent, L3 non-critical routes refused)"},
        {"window", &CircuitBreakerConfig::window, Duration{}, Default::addedLater("60s"), InPlace,
         "the baseline: the samples this far back, without those taken above L0"},
        {"sample_interval", &CircuitBreakerConfig::sample_interval, Duration{}, Default::addedLater("10s"), InPlace,
         "one sample, and at most one level step, per interval (at least 100ms)"},
        {"qps_ratio", &CircuitBreakerConfig::qps_ratio, Number{1, 1000}, Default::addedLater("1.8"), InPlace,
         "a sample's requests per second at least this many times the baseline's is a signal"},
        {"p95_delta", &CircuitBreakerConfig::p95_delta, Duration{}, Default::addedLater("200ms"), InPlace,
         "a sample's p95 latency more than this above the baseline's is a signal"},
        {"shed_percent", &CircuitBreakerConfig::shed_percent, Integer{0, 100}, Default::addedLater("30"), InPlace,
         "at L2 (and for critical routes at L3), this share of requests is refused with 503"},
        {"min_requests", &CircuitBreakerConfig::min_requests, Integer{1, 1'000'000}, Default::addedLater("20"),
         InPlace, "a sample (or a baseline) with fewer requests gives no signal"},
    }};
    table.checks.push_back(checkTiming);
    return table;
}

Table<CircuitBreakerOverride> circuitBreakerOverrideTable() {
    using enum Applies;
    using O = CircuitBreakerOverride;
    Table<O> table{{
        // key, member, type and bounds, default, applies, doc
        {"enabled", &O::enabled, Overriding<Boolean>{}, kUnset, InPlace, "default: circuit_breaker.enabled"},
        {"window", &O::window, Overriding<Duration>{}, kUnset, InPlace, "default: circuit_breaker.window"},
        {"sample_interval", &O::sample_interval, Overriding<Duration>{}, kUnset, InPlace,
         "default: circuit_breaker.sample_interval"},
        {"qps_ratio", &O::qps_ratio, Overriding<Number>{{1, 1000}}, kUnset, InPlace, "default: circuit_breaker.qps_ratio"},
        {"p95_delta", &O::p95_delta, Overriding<Duration>{}, kUnset, InPlace, "default: circuit_breaker.p95_delta"},
        {"shed_percent", &O::shed_percent, Overriding<Integer>{{0, 100}}, kUnset, InPlace,
         "default: circuit_breaker.shed_percent"},
        {"min_requests", &O::min_requests, Overriding<Integer>{{1, 1'000'000}}, kUnset, InPlace,
         "default: circuit_breaker.min_requests"},
    }};
    // The route's timing is checked as it works: its overrides over the top level's settings.
    table.checks.push_back([](Reader& reader, const YAML::Node& map, const std::string& path, const O& over) {
        if (!over.window && !over.sample_interval) return;
        reader.afterLoad([map, path, over](Reader& after, const Config& config) {
            checkTiming(after, map, path, over.over(config.circuit_breaker));
        });
    });
    return table;
}

}  // namespace hotgate::schema

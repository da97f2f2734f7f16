// RouteProtection: a route's rate limit and circuit breaker as one config snapshot serves them,
// and the process's protection state behind them (ProcessProtection): the shared bucket and
// breaker tables (protection/), handed to the next version at an upgrade, the sampler thread
// that steps every route's breaker, and the per-route refusal counters. docs/protection.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <prometheus/metric_family.h>

#include "common/error.h"
#include "common/unique_fd.h"
#include "config/config.h"
#include "protection/breaker_board.h"
#include "protection/shared_buckets.h"

namespace hotgate {

// What protection refused on one route, counted for the life of the process.
struct RouteRefusals {
    std::atomic<std::uint64_t> rate_limited{0};
    std::atomic<std::uint64_t> shed_l2{0};
    std::atomic<std::uint64_t> shed_l3{0};
};

struct RouteProtection {
    std::optional<protection::BucketLimit> limit;  // none: no rate limit
    RateLimitKey key;
    std::uint64_t bucket_seed = 0;  // the route's name, hashed: buckets are per (route, key)
    protection::BreakerBoard::Route* breaker = nullptr;  // null: no breaker on this route
    CircuitBreakerConfig breaker_config;
    bool critical = true;
    std::shared_ptr<RouteRefusals> refusals;
};

// The tables a predecessor handed over (empty fds: make new ones).
struct HandedProtection {
    UniqueFd rate_buckets;
    UniqueFd breakers;
};

class ProcessProtection {
public:
    // Maps the handed tables, or makes new ones: a bucket table of another size than
    // `config.limits.rate_limit_buckets` is replaced (logged: limits start afresh).
    static Result<std::unique_ptr<ProcessProtection>> open(HandedProtection handed, const Config& config);
    ~ProcessProtection();
    ProcessProtection(const ProcessProtection&) = delete;
    ProcessProtection& operator=(const ProcessProtection&) = delete;

    // Per route of `config`, in order. Called when a snapshot is built.
    std::vector<RouteProtection> forConfig(const Config& config);

    // Steps every route's breaker each sample interval, on its own thread, on the config
    // `current` returns, until the object is destroyed.
    void startSampler(std::function<ConfigSnapshot()> current);

    protection::SharedBuckets& buckets() { return *buckets_; }
    protection::BreakerBoard& breakers() { return *breakers_; }
    // For the Handover: [rate buckets, breakers].
    std::vector<int> handoverFds() const { return {buckets_->fd(), breakers_->fd()}; }

    // /metrics: refusals, breaker levels and signals of `config`'s routes, bucket evictions.
    // Every series carries `version` (this process's), like the registry's own families.
    std::vector<prometheus::MetricFamily> metricFamilies(const Config& config, const std::string& version);
    // /status "routes_protection": per route, its breaker level and signals and its refusals.
    struct RouteRow {
        std::string route;
        bool breaker_enabled = false;
        bool critical = true;
        protection::BreakerBoard::View breaker;
        std::uint64_t rate_limited = 0;
        std::uint64_t shed_l2 = 0;
        std::uint64_t shed_l3 = 0;
    };
    std::vector<RouteRow> rows(const Config& config);
    // The admin /protection body: {routes: [row...], changes: [{route, from, to, time_ms}...]}
    // (changes oldest first, of `config`'s routes, whichever version made them).
    nlohmann::json toJson(const Config& config);

private:
    ProcessProtection() = default;
    std::shared_ptr<RouteRefusals> refusalsOf(const std::string& route);
    protection::BreakerBoard::Route* breakerOf(const std::string& route);
    void sampleLoop(const std::function<ConfigSnapshot()>& current);

    std::unique_ptr<protection::SharedBuckets> buckets_;
    std::unique_ptr<protection::BreakerBoard> breakers_;
    std::mutex mutex_;  // refusals_, breaker lookups
    std::map<std::string, std::shared_ptr<RouteRefusals>> refusals_;
    std::mutex sampler_mutex_;
    std::condition_variable sampler_wake_;
    bool stopping_ = false;
    std::thread sampler_;
};

}  // namespace hotgate

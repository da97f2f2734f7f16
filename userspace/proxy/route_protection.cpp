#include "proxy/route_protection.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "observability/logging.h"
#include "proxy/lb/key_hash.h"

namespace hotgate {
namespace {

static_assert(kMaxRateLimitBurst <= protection::SharedBuckets::kMaxBurst, "the schema's burst fits a bucket");

std::uint64_t nameHash(const std::string& route) {
    const std::uint64_t hash = lb::seededHash(route, 0x726f757465ULL);  // "route"
    return hash == 0 ? 1 : hash;
}

std::uint64_t unixMs() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

// How often the sampler looks: a fifth of the shortest sample interval, within [20ms, 1s].
std::chrono::milliseconds tickOf(const Config& config) {
    auto shortest = std::chrono::milliseconds(1000);
    for (const auto& route : config.routes) {
        const auto cb = route.circuit_breaker.over(config.circuit_breaker);
        if (cb.enabled) shortest = std::min(shortest, cb.sample_interval / 5);
    }
    return std::max(shortest, std::chrono::milliseconds(20));
}

}  // namespace

Result<std::unique_ptr<ProcessProtection>> ProcessProtection::open(HandedProtection handed, const Config& config) {
    std::unique_ptr<ProcessProtection> out(new ProcessProtection());
    const auto slots = static_cast<std::uint32_t>(config.limits.rate_limit_buckets);
    if (handed.rate_buckets) {
        auto attached = protection::SharedBuckets::attach(std::move(handed.rate_buckets));
        if (!attached) return fail("rate-limit buckets handed over: ", attached.error().message);
        if ((*attached)->slots() >= slots && (*attached)->slots() < 2 * slots)
            out->buckets_ = std::move(*attached);
        else
            log::warn("limits.rate_limit_buckets changed (", (*attached)->slots(), " -> ", slots,
                      " slots): rate limits start with full buckets");
    }
    if (!out->buckets_) {
        auto made = protection::SharedBuckets::create(slots);
        if (!made) return tl::unexpected(made.error());
        out->buckets_ = std::move(*made);
    }
    if (handed.breakers) {
        auto attached = protection::BreakerBoard::attach(std::move(handed.breakers));
        if (!attached) return fail("circuit breakers handed over: ", attached.error().message);
        out->breakers_ = std::move(*attached);
    } else {
        auto made = protection::BreakerBoard::create();
        if (!made) return tl::unexpected(made.error());
        out->breakers_ = std::move(*made);
    }
    return out;
}

ProcessProtection::~ProcessProtection() {
    {
        std::lock_guard lock(sampler_mutex_);
        stopping_ = true;
    }
    sampler_wake_.notify_all();
    if (sampler_.joinable()) sampler_.join();
}

std::shared_ptr<RouteRefusals> ProcessProtection::refusalsOf(const std::string& route) {
    std::lock_guard lock(mutex_);
    auto& refusals = refusals_[route];
    if (!refusals) refusals = std::make_shared<RouteRefusals>();
    return refusals;
}

protection::BreakerBoard::Route* ProcessProtection::breakerOf(const std::string& route) {
    std::lock_guard lock(mutex_);
    return breakers_->route(nameHash(route));
}

std::vector<RouteProtection> ProcessProtection::forConfig(const Config& config) {
    std::vector<RouteProtection> out;
    for (const auto& route : config.routes) {
        RouteProtection rp;
        if (route.rate_limit) {
            rp.limit = protection::BucketLimit{route.rate_limit->requests_per_second, route.rate_limit->burst};
            rp.key = route.rate_limit->key;
        }
        rp.bucket_seed = nameHash(route.name);
        rp.breaker_config = route.circuit_breaker.over(config.circuit_breaker);
        if (rp.breaker_config.enabled) {
            rp.breaker = breakerOf(route.name);
            if (!rp.breaker)
                log::warn("circuit breaker table full: route ", route.name, " has no breaker");
        }
        rp.critical = route.critical;
        rp.refusals = refusalsOf(route.name);
        out.push_back(std::move(rp));
    }
    return out;
}

void ProcessProtection::startSampler(std::function<ConfigSnapshot()> current) {
    sampler_ = std::thread([this, current = std::move(current)] { sampleLoop(current); });
}

void ProcessProtection::sampleLoop(const std::function<ConfigSnapshot()>& current) {
    std::unique_lock lock(sampler_mutex_);
    for (;;) {
        const ConfigSnapshot config = current();
        const auto tick = tickOf(*config);
        if (sampler_wake_.wait_for(lock, tick, [this] { return stopping_; })) return;
        const std::uint64_t now = protection::SharedBuckets::nowMs();
        for (const auto& route : config->routes) {
            const auto cb = route.circuit_breaker.over(config->circuit_breaker);
            if (!cb.enabled) continue;
            auto* breaker = breakerOf(route.name);
            if (!breaker) continue;
            const auto change = breakers_->sample(*breaker, cb, now, unixMs());
            if (!change) continue;
            const auto& s = change->signals;
            log::warn("circuit breaker: route ", route.name, " ", protection::levelName(change->from), " -> ",
                      protection::levelName(change->to), " (qps_ratio ", s.qps_ratio, s.qps_over ? " over" : "",
                      ", p95_delta ", s.p95_delta_us / 1000, "ms", s.p95_over ? " over" : "", ")");
        }
    }
}

std::vector<ProcessProtection::RouteRow> ProcessProtection::rows(const Config& config) {
    std::vector<RouteRow> out;
    for (const auto& route : config.routes) {
        RouteRow row;
        row.route = route.name;
        row.critical = route.critical;
        row.breaker_enabled = route.circuit_breaker.over(config.circuit_breaker).enabled;
        if (row.breaker_enabled)
            if (const auto* breaker = breakerOf(route.name)) row.breaker = protection::BreakerBoard::view(*breaker);
        const auto refusals = refusalsOf(route.name);
        row.rate_limited = refusals->rate_limited.load(std::memory_order_relaxed);
        row.shed_l2 = refusals->shed_l2.load(std::memory_order_relaxed);
        row.shed_l3 = refusals->shed_l3.load(std::memory_order_relaxed);
        out.push_back(std::move(row));
    }
    return out;
}

nlohmann::json ProcessProtection::toJson(const Config& config) {
    nlohmann::json routes = nlohmann::json::array();
    for (const auto& row : rows(config)) {
        nlohmann::json entry{{"route", row.route},
                             {"critical", row.critical},
                             {"breaker_enabled", row.breaker_enabled},
                             {"rate_limited", row.rate_limited},
                             {"shed_l2", row.shed_l2},
                             {"shed_l3", row.shed_l3}};
        if (const auto* route = config.findRoute(row.route); route && route->rate_limit)
            entry["rate_limit_per_second"] = route->rate_limit->requests_per_second;
        if (row.breaker_enabled) {
            const auto& s = row.breaker.signals;
            entry["level"] = std::string(protection::levelName(row.breaker.level));
            entry["qps_ratio"] = s.qps_ratio;
            entry["qps_over"] = s.qps_over;
            entry["p95_delta_ms"] = static_cast<double>(s.p95_delta_us) / 1000.0;
            entry["p95_over"] = s.p95_over;
            entry["level_changes"] = row.breaker.level_changes;
        }
        routes.push_back(std::move(entry));
    }
    std::map<std::uint64_t, std::string> names;
    for (const auto& route : config.routes) names[nameHash(route.name)] = route.name;
    nlohmann::json changes = nlohmann::json::array();
    for (const auto& change : breakers_->changes()) {
        const auto name = names.find(change.route_hash);
        if (name == names.end()) continue;
        changes.push_back({{"route", name->second},
                           {"from", std::string(protection::levelName(change.from))},
                           {"to", std::string(protection::levelName(change.to))},
                           {"time_ms", change.unix_ms}});
    }
    return {{"routes", std::move(routes)}, {"changes", std::move(changes)}};
}

std::vector<prometheus::MetricFamily> ProcessProtection::metricFamilies(const Config& config,
                                                                      const std::string& version) {
    using prometheus::MetricType;
    prometheus::MetricFamily limited{"hotgate_rate_limited_total", "Requests refused with 429 by the route's rate limit",
                                     MetricType::Counter, {}};
    prometheus::MetricFamily shed{"hotgate_circuit_breaker_shed_total",
                                  "Requests refused with 503 by the route's circuit breaker, by level",
                                  MetricType::Counter, {}};
    prometheus::MetricFamily level{"hotgate_circuit_breaker_level",
                                   "The route's circuit breaker level (0-3), shared by every version",
                                   MetricType::Gauge, {}};
    prometheus::MetricFamily qps{"hotgate_circuit_breaker_qps_ratio",
                                 "The last sample's requests per second over the baseline's (0: no baseline)",
                                 MetricType::Gauge, {}};
    prometheus::MetricFamily p95{"hotgate_circuit_breaker_p95_delta_seconds",
                                 "The last sample's p95 latency minus the baseline's", MetricType::Gauge, {}};
    for (const auto& row : rows(config)) {
        prometheus::ClientMetric metric;
        metric.label = {{"route", row.route}, {"version", version}};
        metric.counter.value = static_cast<double>(row.rate_limited);
        limited.metric.push_back(metric);
        for (const auto& [name, count] : {std::pair{"L2", row.shed_l2}, std::pair{"L3", row.shed_l3}}) {
            prometheus::ClientMetric by_level;
            by_level.label = {{"route", row.route}, {"level", name}, {"version", version}};
            by_level.counter.value = static_cast<double>(count);
            shed.metric.push_back(std::move(by_level));
        }
        if (!row.breaker_enabled) continue;
        metric.counter = {};
        metric.gauge.value = static_cast<double>(row.breaker.level);
        level.metric.push_back(metric);
        metric.gauge.value = row.breaker.signals.qps_ratio;
        qps.metric.push_back(metric);
        metric.gauge.value = static_cast<double>(row.breaker.signals.p95_delta_us) / 1e6;
        p95.metric.push_back(std::move(metric));
    }
    prometheus::MetricFamily evictions{"hotgate_rate_limit_evictions_total",
                                       "Rate-limit buckets taken over by a new key when the table was full (all versions)",
                                       MetricType::Counter, {}};
    prometheus::ClientMetric total;
    total.label = {{"version", version}};
    total.counter.value = static_cast<double>(buckets_->evictions());
    evictions.metric.push_back(std::move(total));
    return {std::move(limited), std::move(shed), std::move(level), std::move(qps), std::move(p95),
            std::move(evictions)};
}

}  // namespace hotgate

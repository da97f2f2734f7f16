#include "health/health_service.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "dataplane/bpffs.h"
#include "dataplane/bpffs_lock.h"
#include "observability/logging.h"

namespace hotgate::health {

namespace {

std::string endpointText(std::uint16_t family, const __u8* addr, std::uint16_t port) {
    char text[INET6_ADDRSTRLEN] = "";
    if (family == AF_INET6) {
        ::inet_ntop(AF_INET6, addr, text, sizeof(text));
        return "[" + std::string(text) + "]:" + std::to_string(port);
    }
    if (family != AF_INET) return "";
    ::inet_ntop(AF_INET, addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(port);
}

std::uint64_t load(const __u64& value) {
    return std::atomic_ref<__u64>(const_cast<__u64&>(value)).load(std::memory_order_relaxed);
}

std::string slotVersion(const health_slot& s) {
    return std::string(s.version, strnlen(s.version, sizeof(s.version)));
}

nlohmann::json quantilesJson(const Quantiles& q) {
    return {{"p50", q.p50}, {"p99", q.p99}, {"count", q.count}};
}

prometheus::ClientMetric histogramMetric(const health_hist& h, std::vector<prometheus::ClientMetric::Label> labels) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    std::uint64_t cumulative = 0;
    for (int b = 0; b < HEALTH_BUCKETS; ++b) {
        cumulative += h.buckets[b];
        // The last bucket also holds everything above 2^(HEALTH_BUCKETS-1) us: it is +Inf.
        const double le = b == HEALTH_BUCKETS - 1 ? std::numeric_limits<double>::infinity() : std::ldexp(1.0, b) / 1e6;
        m.histogram.bucket.push_back({cumulative, le});
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(h.sum_us) / 1e6;
    return m;
}

void add(health_hist& into, const health_hist& h) {
    for (int b = 0; b < HEALTH_BUCKETS; ++b) into.buckets[b] += h.buckets[b];
    into.sum_us += h.sum_us;
}

bool empty(const health_hist& h) {
    for (auto b : h.buckets)
        if (b) return false;
    return true;
}

}  // namespace

std::unique_ptr<HealthService> HealthService::unavailable(std::string reason, std::string version) {
    std::unique_ptr<HealthService> service(new HealthService());
    service->reason_ = std::move(reason);
    service->registration_.version = std::move(version);
    return service;
}

std::unique_ptr<HealthService> HealthService::start(Registration registration) {
    std::unique_ptr<HealthService> service(new HealthService());
    service->registration_ = std::move(registration);
    const Registration& r = service->registration_;
    const auto pid = static_cast<std::uint32_t>(::getpid());
    // The root's lock is held from the load to this process's registration, so that no
    // collector (another gateway starting, gwctl dataplane --prune) sees the set unclaimed.
    std::optional<dataplane::PinRootLock> lock;
    auto pins = [&]() -> Result<std::unique_ptr<HealthPins>> {
        if (auto root = dataplane::ensureBpffsRoot(r.bpffs_root); !root) return tl::unexpected(root.error());
        auto locked = dataplane::PinRootLock::acquire(r.bpffs_root);
        if (!locked) return tl::unexpected(locked.error());
        lock = std::move(*locked);
        return loadHealth(*lock, r.options);
    }();
    if (!pins) {
        log::warn("health profile unavailable: ", pins.error().message);
        return unavailable(pins.error().message, r.version);
    }
    auto registered = [&]() -> Result<void> {
        auto ok = (*pins)->registerProcess(r.slot, r.version, pid);
        lock.reset();
        if (!ok) return ok;
        for (std::size_t l = 0; l < r.listener_fds.size(); ++l)
            for (int fd : r.listener_fds[l])
                if (auto ok = (*pins)->markListener(fd, r.slot, static_cast<std::uint32_t>(l)); !ok) return ok;
        for (std::size_t u = 0; u < r.upstreams.size() && u < HEALTH_MAX_INDEX; ++u)
            if (auto ok =
                    (*pins)->addUpstream(r.upstreams[u].first, r.upstreams[u].second, static_cast<std::uint32_t>(u));
                !ok)
                return ok;
        return {};
    }();
    if (!registered) {
        log::warn("health profile unavailable: ", registered.error().message);
        (void)(*pins)->leave(pid);
        return unavailable(registered.error().message, r.version);
    }
    auto monitor = HealthMonitor::start(**pins, r.spikes);
    if (!monitor) {
        log::warn("health profile unavailable: ", monitor.error().message);
        (void)(*pins)->leave(pid);
        return unavailable(monitor.error().message, r.version);
    }
    service->pins_ = std::move(*pins);
    service->monitor_ = std::move(*monitor);
    // Falling back to tracepoints is the expected outcome on kernels without fentry or kprobes
    // (docs/health.md): said as information, with what the better variants met.
    log::info("health profile: ", service->mode(), " programs under ", service->pins_->directory(), ", slot ", r.slot,
              service->pins_->reason().empty()
                  ? std::string()
                  : "; the best variant this kernel attaches (" + service->pins_->reason() + ")");
    return service;
}

HealthService::~HealthService() {
    monitor_.reset();
    if (pins_) {
        auto left = pins_->leave(static_cast<std::uint32_t>(::getpid()));
        if (!left) log::warn("health: leaving: ", left.error().message);
    }
}

std::string HealthService::mode() const {
    return pins_ ? modeName(pins_->mode()) : "";
}

std::string HealthService::listenerLabel(std::uint32_t index) const {
    if (index < registration_.listener_names.size()) return registration_.listener_names[index];
    return "#" + std::to_string(index);
}

std::string HealthService::upstreamLabel(std::uint32_t index) const {
    if (index < registration_.upstreams.size()) {
        const auto& [ip, port] = registration_.upstreams[index];
        return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
    }
    return "#" + std::to_string(index);
}

std::optional<HealthService::OwnReading> HealthService::ownReading() const {
    if (!pins_ || !monitor_) return std::nullopt;
    OwnReading reading;
    const std::uint32_t slot = registration_.slot;
    reading.handshake_us = monitor_->window(HEALTH_H_HANDSHAKE, slot);
    if (auto listener = pins_->readCounters(slot * HEALTH_SIDES + HEALTH_SIDE_LISTENER)) {
        reading.connections = listener->count[HEALTH_CTR_OPENED];
        reading.resets_sent = listener->count[HEALTH_CTR_RESETS_SENT];
    }
    return reading;
}

nlohmann::json HealthService::healthJson(std::optional<std::uint32_t> active_slot, const std::string& own_phase) const {
    nlohmann::json out;
    out["available"] = available();
    out["mode"] = mode();
    out["reason"] = pins_ ? pins_->reason() : reason_;
    out["now_ms"] = unixMs();
    out["active_slot"] = active_slot ? nlohmann::json(*active_slot) : nlohmann::json(nullptr);
    out["window_s"] = std::chrono::duration_cast<std::chrono::seconds>(registration_.spikes.window).count();
    out["versions"] = nlohmann::json::array();
    out["events_dropped"] = 0;
    if (!pins_) return out;
    auto global = pins_->readCounters(HEALTH_CTR_ROW_GLOBAL);
    if (global) out["events_dropped"] = global->count[HEALTH_GLOBAL_DROPPED];
    for (std::uint32_t slot = 0; slot < HEALTH_SLOTS; ++slot) {
        const health_slot& s = pins_->slot(slot);
        if (!std::atomic_ref<__u32>(const_cast<__u32&>(s.registered)).load(std::memory_order_acquire)) continue;
        nlohmann::json v;
        v["slot"] = slot;
        v["version"] = slotVersion(s);
        v["pid"] = s.pid;
        v["active"] = active_slot && *active_slot == slot;
        if (slot == registration_.slot && s.pid == static_cast<std::uint32_t>(::getpid())) v["phase"] = own_phase;
        v["requests_total"] = load(s.requests);
        v["errors_total"] = load(s.responses_5xx) + load(s.rejected);
        health_counters sides[HEALTH_SIDES]{};
        for (std::uint32_t side = 0; side < HEALTH_SIDES; ++side)
            if (auto c = pins_->readCounters(slot * HEALTH_SIDES + side)) sides[side] = *c;
        const auto& listener = sides[HEALTH_SIDE_LISTENER].count;
        const auto& upstream = sides[HEALTH_SIDE_UPSTREAM].count;
        v["connections_total"] = listener[HEALTH_CTR_OPENED];
        v["connections_open"] = listener[HEALTH_CTR_OPENED] >= listener[HEALTH_CTR_CLOSED]
                                    ? listener[HEALTH_CTR_OPENED] - listener[HEALTH_CTR_CLOSED]
                                    : 0;
        v["upstream_connections_total"] = upstream[HEALTH_CTR_OPENED];
        v["handshake_us"] = quantilesJson(monitor_->window(HEALTH_H_HANDSHAKE, slot));
        v["connect_us"] = quantilesJson(monitor_->window(HEALTH_H_CONNECT, slot));
        Quantiles srtt = monitor_->window(HEALTH_H_SRTT_LISTENER, slot);
        v["srtt_us"] = quantilesJson(srtt);
        v["upstream_srtt_us"] = quantilesJson(monitor_->window(HEALTH_H_SRTT_UPSTREAM, slot));
        v["resets_sent"] = listener[HEALTH_CTR_RESETS_SENT] + upstream[HEALTH_CTR_RESETS_SENT];
        v["resets_received"] = listener[HEALTH_CTR_RESETS_RECEIVED] + upstream[HEALTH_CTR_RESETS_RECEIVED];
        v["retransmits"] = listener[HEALTH_CTR_RETRANSMITS] + upstream[HEALTH_CTR_RETRANSMITS];
        v["by_side"] = {
            {"listener",
             {{"resets_sent", listener[HEALTH_CTR_RESETS_SENT]},
              {"resets_received", listener[HEALTH_CTR_RESETS_RECEIVED]},
              {"retransmits", listener[HEALTH_CTR_RETRANSMITS]}}},
            {"upstream",
             {{"resets_sent", upstream[HEALTH_CTR_RESETS_SENT]},
              {"resets_received", upstream[HEALTH_CTR_RESETS_RECEIVED]},
              {"retransmits", upstream[HEALTH_CTR_RETRANSMITS]}}},
        };
        out["versions"].push_back(std::move(v));
    }
    return out;
}

nlohmann::json HealthService::spikesJson(std::uint64_t since, std::size_t limit) const {
    nlohmann::json out;
    out["events"] = nlohmann::json::array();
    out["next"] = since;
    out["dropped"] = 0;
    if (!pins_) {
        out["available"] = false;
        out["reason"] = reason_;
        return out;
    }
    if (auto global = pins_->readCounters(HEALTH_CTR_ROW_GLOBAL)) out["dropped"] = global->count[HEALTH_GLOBAL_DROPPED];
    std::uint64_t next = since;
    for (const auto& logged : pins_->log().read(since, limit, next)) {
        const health_event& e = logged.event;
        nlohmann::json j;
        j["seq"] = logged.seq;
        j["time_ms"] = e.time_ms;
        j["kind"] = eventKindName(e.kind);
        j["slot"] = e.slot;
        j["version"] = e.slot < HEALTH_SLOTS ? slotVersion(pins_->slot(e.slot)) : "";
        if (e.kind == HEALTH_EV_CUTOVER) {
            j["from_slot"] = e.from_slot;
        } else {
            j["side"] = e.side == HEALTH_SIDE_UPSTREAM ? "upstream" : "listener";
            j["src"] = endpointText(e.family, e.saddr, e.sport);
            j["dst"] = endpointText(e.family, e.daddr, e.dport);
            j["value_us"] = e.value_us;
            j["threshold_us"] = e.threshold_us;
        }
        out["events"].push_back(std::move(j));
    }
    out["next"] = next;
    return out;
}

std::vector<prometheus::MetricFamily> HealthService::collect() const {
    using prometheus::MetricFamily;
    using prometheus::MetricType;
    std::vector<MetricFamily> families;
    MetricFamily info{"hotgate_health_info",
                      "TCP health profile: 1, with the program variant and availability",
                      MetricType::Gauge,
                      {}};
    prometheus::ClientMetric info_metric;
    const std::string& own_version = registration_.version;
    info_metric.label = {{"available", available() ? "true" : "false"}, {"mode", mode()}, {"version", own_version}};
    info_metric.gauge.value = 1;
    info.metric.push_back(info_metric);
    families.push_back(std::move(info));
    if (!pins_) return families;

    MetricFamily handshake{
        "hotgate_tcp_handshake_seconds",
        "Server-side TCP handshake latency (first SYN-ACK sent to ESTABLISHED), by version and listener",
        MetricType::Histogram,
        {}};
    MetricFamily connect{"hotgate_tcp_upstream_connect_seconds",
                         "Upstream TCP connect latency (SYN_SENT to ESTABLISHED)",
                         MetricType::Histogram,
                         {}};
    MetricFamily lifetime{"hotgate_tcp_connection_lifetime_seconds",
                          "Accepted TCP connections: ESTABLISHED to CLOSE",
                          MetricType::Histogram,
                          {}};
    MetricFamily srtt{"hotgate_tcp_srtt_seconds",
                      "Smoothed RTT samples (at most one per connection per 100ms)",
                      MetricType::Histogram,
                      {}};
    MetricFamily resets{"hotgate_tcp_resets_total", "TCP resets on the gateway's connections", MetricType::Counter, {}};
    MetricFamily retransmits{
        "hotgate_tcp_retransmits_total", "TCP retransmits on the gateway's connections", MetricType::Counter, {}};
    for (std::uint32_t slot = 0; slot < HEALTH_SLOTS; ++slot) {
        const health_slot& s = pins_->slot(slot);
        if (!std::atomic_ref<__u32>(const_cast<__u32&>(s.registered)).load(std::memory_order_acquire)) continue;
        const std::string version = slotVersion(s);
        health_hist srtt_sides[HEALTH_SIDES]{};
        for (std::uint32_t index = 0; index < HEALTH_MAX_INDEX; ++index) {
            auto hs = pins_->readHist(HEALTH_H_HANDSHAKE, slot, index);
            auto lt = pins_->readHist(HEALTH_H_LIFETIME, slot, index);
            auto ct = pins_->readHist(HEALTH_H_CONNECT, slot, index);
            auto sl = pins_->readHist(HEALTH_H_SRTT_LISTENER, slot, index);
            auto su = pins_->readHist(HEALTH_H_SRTT_UPSTREAM, slot, index);
            const bool listener_known = index < registration_.listener_names.size();
            if (hs && (listener_known || !empty(*hs)))
                handshake.metric.push_back(
                    histogramMetric(*hs, {{"version", version}, {"listener", listenerLabel(index)}}));
            if (lt && (listener_known || !empty(*lt)))
                lifetime.metric.push_back(
                    histogramMetric(*lt, {{"version", version}, {"listener", listenerLabel(index)}}));
            if (ct && (index < registration_.upstreams.size() || !empty(*ct)))
                connect.metric.push_back(
                    histogramMetric(*ct, {{"version", version}, {"upstream", upstreamLabel(index)}}));
            if (sl) add(srtt_sides[HEALTH_SIDE_LISTENER], *sl);
            if (su) add(srtt_sides[HEALTH_SIDE_UPSTREAM], *su);
        }
        for (std::uint32_t side = 0; side < HEALTH_SIDES; ++side) {
            const std::string side_name = side == HEALTH_SIDE_LISTENER ? "listener" : "upstream";
            srtt.metric.push_back(histogramMetric(srtt_sides[side], {{"version", version}, {"side", side_name}}));
            auto c = pins_->readCounters(slot * HEALTH_SIDES + side);
            if (!c) continue;
            prometheus::ClientMetric m;
            m.label = {{"direction", "sent"}, {"side", side_name}, {"version", version}};
            m.counter.value = static_cast<double>(c->count[HEALTH_CTR_RESETS_SENT]);
            resets.metric.push_back(m);
            m.label = {{"direction", "received"}, {"side", side_name}, {"version", version}};
            m.counter.value = static_cast<double>(c->count[HEALTH_CTR_RESETS_RECEIVED]);
            resets.metric.push_back(m);
            m.label = {{"side", side_name}, {"version", version}};
            m.counter.value = static_cast<double>(c->count[HEALTH_CTR_RETRANSMITS]);
            retransmits.metric.push_back(m);
        }
    }
    MetricFamily events{"hotgate_health_events_total",
                        "Health events emitted by the kernel programs, by kind",
                        MetricType::Counter,
                        {}};
    MetricFamily dropped{"hotgate_health_events_dropped_total",
                         "Health events lost because the ring buffer was full",
                         MetricType::Counter,
                         {}};
    if (auto global = pins_->readCounters(HEALTH_CTR_ROW_GLOBAL)) {
        for (std::uint32_t kind = 0; kind < HEALTH_EV_CUTOVER; ++kind) {
            prometheus::ClientMetric m;
            m.label = {{"kind", eventKindName(kind)}, {"version", own_version}};
            m.counter.value = static_cast<double>(global->count[kind]);
            events.metric.push_back(m);
        }
        prometheus::ClientMetric m;
        m.label = {{"version", own_version}};
        m.counter.value = static_cast<double>(global->count[HEALTH_GLOBAL_DROPPED]);
        dropped.metric.push_back(m);
    }
    for (auto* family : {&handshake, &connect, &lifetime, &srtt, &resets, &retransmits, &events, &dropped})
        families.push_back(std::move(*family));
    return families;
}

}  // namespace hotgate::health

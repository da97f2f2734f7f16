#include "health/health_monitor.h"

#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dataplane/bpffs.h"
#include "observability/logging.h"

namespace hotgate::health {

namespace {

void subtract(health_hist& a, const health_hist& b) {
    for (int i = 0; i < HEALTH_BUCKETS; ++i)
        a.buckets[i] = a.buckets[i] >= b.buckets[i] ? a.buckets[i] - b.buckets[i] : 0;
    a.sum_us = a.sum_us >= b.sum_us ? a.sum_us - b.sum_us : 0;
}

std::uint64_t total(const health_hist& h) {
    std::uint64_t n = 0;
    for (auto b : h.buckets) n += b;
    return n;
}

}  // namespace

std::uint64_t histogramQuantile(const health_hist& hist, double q) {
    const std::uint64_t count = total(hist);
    if (count == 0) return 0;
    const double rank = q * static_cast<double>(count);
    std::uint64_t below = 0;
    for (int b = 0; b < HEALTH_BUCKETS; ++b) {
        if (hist.buckets[b] == 0) continue;
        if (static_cast<double>(below + hist.buckets[b]) >= rank) {
            const double upper = std::ldexp(1.0, b);
            const double lower = b == 0 ? 0.0 : std::ldexp(1.0, b - 1);
            const double inside = (rank - static_cast<double>(below)) / static_cast<double>(hist.buckets[b]);
            return static_cast<std::uint64_t>(lower + (upper - lower) * std::clamp(inside, 0.0, 1.0));
        }
        below += hist.buckets[b];
    }
    return static_cast<std::uint64_t>(std::ldexp(1.0, HEALTH_BUCKETS - 1));
}

Result<std::unique_ptr<HealthMonitor>> HealthMonitor::start(HealthPins& pins, SpikeSettings settings) {
    std::unique_ptr<HealthMonitor> monitor(new HealthMonitor(pins, settings));
    monitor->ring_ = ring_buffer__new(pins.ringFd(), &HealthMonitor::onEvent, monitor.get(), nullptr);
    if (!monitor->ring_) return sysError(errno, "open the health ring buffer of ", pins.directory());
    monitor->tick();
    monitor->thread_ = std::thread([m = monitor.get()] { m->run(); });
    return monitor;
}

HealthMonitor::~HealthMonitor() {
    {
        std::lock_guard lock(mutex_);
        stop_.store(true);
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (reader_.load()) {
        // Give the role up so a surviving version takes it at its next tick.
        std::atomic_ref<__u32> holder(pins_.meta().reader_pid);
        __u32 self = static_cast<__u32>(::getpid());
        holder.compare_exchange_strong(self, 0);
    }
    if (ring_) ring_buffer__free(ring_);
}

void HealthMonitor::run() {
    auto last_tick = std::chrono::steady_clock::now();
    while (!stop_.load()) {
        // Drain often (events stay fresh, the ring buffer stays empty); snapshot once a tick.
        if (reader_.load() && !paused_.load()) {
            std::lock_guard lock(mutex_);
            drain();
        }
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_.load(); });
        lock.unlock();
        if (std::chrono::steady_clock::now() - last_tick >= settings_.tick) {
            last_tick = std::chrono::steady_clock::now();
            tick();
        }
    }
}

void HealthMonitor::pollNow() {
    tick();
    if (reader_.load() && !paused_.load()) {
        std::lock_guard lock(mutex_);
        drain();
    }
}

bool HealthMonitor::claimReader() {
    std::atomic_ref<__u32> holder(pins_.meta().reader_pid);
    const __u32 self = static_cast<__u32>(::getpid());
    __u32 current = holder.load();
    if (current == self) return true;
    if (current != 0 && dataplane::pidAlive(current)) return false;
    return holder.compare_exchange_strong(current, self);
}

void HealthMonitor::tick() {
    const bool reader = claimReader();
    if (reader && !reader_.load()) log::info("health: this process drains the event ring buffer");
    reader_.store(reader);

    Snapshot snap;
    snap.at = std::chrono::steady_clock::now();
    for (std::uint32_t slot = 0; slot < HEALTH_SLOTS; ++slot) {
        if (!std::atomic_ref<__u32>(pins_.slot(slot).registered).load(std::memory_order_acquire)) continue;
        for (std::uint32_t kind = 0; kind < HEALTH_H_KINDS; ++kind) {
            health_hist& sum = snap.hists[kind][slot];
            for (std::uint32_t index = 0; index < HEALTH_MAX_INDEX; ++index) {
                auto h = pins_.readHist(kind, slot, index);
                if (!h) continue;
                for (int b = 0; b < HEALTH_BUCKETS; ++b) sum.buckets[b] += h->buckets[b];
                sum.sum_us += h->sum_us;
            }
        }
    }
    std::lock_guard lock(mutex_);
    snapshots_.push_back(snap);
    // Keep one snapshot at or before the window start, so the window is fully covered.
    while (snapshots_.size() > 2 && snapshots_[1].at <= snap.at - settings_.window) snapshots_.pop_front();
    if (reader) updateThresholds();
}

Quantiles HealthMonitor::window(std::uint32_t kind, std::uint32_t slot) const {
    Quantiles out;
    if (kind >= HEALTH_H_KINDS || slot >= HEALTH_SLOTS) return out;
    std::lock_guard lock(mutex_);
    if (snapshots_.empty()) return out;
    health_hist delta = snapshots_.back().hists[kind][slot];
    // The oldest snapshot is at or before the window start once the monitor ran a full window;
    // before that, it is the one taken at start, and samples from before start are excluded.
    if (snapshots_.size() > 1) subtract(delta, snapshots_.front().hists[kind][slot]);
    out.count = total(delta);
    out.p50 = histogramQuantile(delta, 0.50);
    out.p99 = histogramQuantile(delta, 0.99);
    return out;
}

void HealthMonitor::updateThresholds() {
    // Called with mutex_ held, by the reader.
    const std::pair<std::uint32_t, std::uint32_t> kinds[] = {{HEALTH_H_HANDSHAKE, HEALTH_EV_HANDSHAKE},
                                                             {HEALTH_H_CONNECT, HEALTH_EV_CONNECT}};
    for (auto [hist_kind, event_kind] : kinds) {
        std::uint64_t effective = settings_.threshold_us;
        if (settings_.p99_factor > 0 && snapshots_.size() > 1) {
            health_hist delta{};
            for (std::uint32_t slot = 0; slot < HEALTH_SLOTS; ++slot) {
                health_hist d = snapshots_.back().hists[hist_kind][slot];
                subtract(d, snapshots_.front().hists[hist_kind][slot]);
                for (int b = 0; b < HEALTH_BUCKETS; ++b) delta.buckets[b] += d.buckets[b];
            }
            // Too few samples make a meaningless p99: the absolute threshold alone then.
            if (total(delta) >= 20) {
                const double relative = settings_.p99_factor * static_cast<double>(histogramQuantile(delta, 0.99));
                effective = std::min<std::uint64_t>(
                    settings_.threshold_us,
                    std::max<std::uint64_t>(settings_.floor_us, static_cast<std::uint64_t>(relative)));
            }
        }
        if (effective != written_thresholds_[event_kind] || snapshots_.size() == 1) {
            if (auto written = pins_.setThreshold(event_kind, effective); written)
                written_thresholds_[event_kind] = effective;
            else
                log::warn("health: ", written.error().message);
        }
    }
}

void HealthMonitor::drain() {
    // Called with mutex_ held. Non-blocking: consume what is there.
    (void)ring_buffer__consume(ring_);
}

int HealthMonitor::onEvent(void* ctx, void* data, std::size_t size) {
    auto* self = static_cast<HealthMonitor*>(ctx);
    if (size < sizeof(health_event)) return 0;
    health_event event;
    std::memcpy(&event, data, sizeof(event));
    // Monotonic kernel time to wall-clock ms, through the offset between the clocks now.
    const std::uint64_t mono = monotonicNs();
    const std::uint64_t age_ms = mono > event.time_ns ? (mono - event.time_ns) / 1000000 : 0;
    event.time_ms = unixMs() - age_ms;
    self->pins_.log().append(event);
    self->appended_.fetch_add(1);
    return 0;
}

}  // namespace hotgate::health

// HealthMonitor: one process's reader of the pinned health state. A thread that
//  - drains the ring buffer into the shared event log, when this process holds the reader
//    role (health_meta.reader_pid, claimed with a CAS; taken over when its holder died), so
//    events are appended once whatever the number of running versions;
//  - snapshots the histograms once per tick and keeps them for the rolling window, from which
//    it gives p50/p99 per (kind, slot);
//  - as the reader, writes the effective spike thresholds (min(threshold, max(floor,
//    factor x rolling p99))) for the BPF programs.
#pragma once

#include <linux/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "common/error.h"
#include "health.h"
#include "health/health_loader.h"

struct ring_buffer;

namespace hotgate::health {

struct SpikeSettings {
    std::uint64_t threshold_us = 200000;
    double p99_factor = 4.0;
    std::uint64_t floor_us = 5000;
    std::chrono::milliseconds window{60000};
    std::chrono::milliseconds tick{1000};
};

struct Quantiles {
    std::uint64_t p50 = 0;
    std::uint64_t p99 = 0;
    std::uint64_t count = 0;
};

// Quantile q (0..1) of a log2 histogram, interpolated inside the bucket (as Prometheus'
// histogram_quantile does); 0 for an empty histogram.
std::uint64_t histogramQuantile(const health_hist& hist, double q);

class HealthMonitor {
public:
    // Starts the thread; writes the initial thresholds when it gets the reader role.
    static Result<std::unique_ptr<HealthMonitor>> start(HealthPins& pins, SpikeSettings settings);
    ~HealthMonitor();  // stops the thread and gives the reader role up
    HealthMonitor(const HealthMonitor&) = delete;
    HealthMonitor& operator=(const HealthMonitor&) = delete;

    // p50/p99/count of histogram `kind` (enum health_hist_kind) of `slot` over the window,
    // all listeners/upstreams together.
    Quantiles window(std::uint32_t kind, std::uint32_t slot) const;
    std::chrono::milliseconds windowLength() const { return settings_.window; }

    bool isReader() const { return reader_.load(); }
    std::uint64_t eventsAppended() const { return appended_.load(); }

    // Test hook: a paused monitor keeps the reader role but stops draining the ring buffer
    // (a slow reader), so the BPF side must drop and count instead of blocking anything.
    void pauseDraining(bool paused) { paused_.store(paused); }
    // Takes a snapshot and drains the ring buffer now (tests: no waiting for the tick).
    void pollNow();

private:
    using SlotHists = std::array<std::array<health_hist, HEALTH_SLOTS>, HEALTH_H_KINDS>;
    struct Snapshot {
        std::chrono::steady_clock::time_point at;
        SlotHists hists{};
    };

    HealthMonitor(HealthPins& pins, SpikeSettings settings) : pins_(pins), settings_(settings) {}
    void run();
    void tick();
    bool claimReader();
    void drain();
    void updateThresholds();
    static int onEvent(void* ctx, void* data, std::size_t size);

    HealthPins& pins_;
    SpikeSettings settings_;
    ring_buffer* ring_ = nullptr;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> paused_{false};
    std::atomic<bool> reader_{false};
    std::atomic<std::uint64_t> appended_{0};
    mutable std::mutex mutex_;  // snapshots_, and one tick at a time
    std::condition_variable wake_;
    std::deque<Snapshot> snapshots_;
    std::array<std::uint64_t, HEALTH_EV_MAX> written_thresholds_{};
};

}  // namespace hotgate::health

// SegmentedLoad: loadgen in back-to-back segments of a fixed length, on two chains offset by
// half a segment, until stop(): at every moment at least one loadgen runs, however long what
// the test does under it takes (a slow VM), and the load ends at most one segment after it.
// Each segment's JSON summary is kept; the checks add them up.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/child_process.h"

namespace hotgate::test {

class SegmentedLoad {
public:
    // Starts one segment: loadgen with these arguments plus --duration and --json, its output
    // beside `json`. Returns false with `error` set when it did not start.
    using StartSegment = std::function<bool(ChildProcess& load, int seconds, const std::filesystem::path& json,
                                            std::string& error)>;

    SegmentedLoad(std::filesystem::path dir, int segment_seconds, StartSegment start)
        : dir_(std::move(dir)), seconds_(segment_seconds), start_(std::move(start)) {
        for (int chain = 0; chain < 2; ++chain)
            chains_.emplace_back([this, chain] {
                if (chain == 1) sleepUnlessStopped(std::chrono::milliseconds(seconds_ * 500));
                for (int n = 0; !stop_; ++n) runSegment(chain, n);
            });
    }
    ~SegmentedLoad() { stop(); }

    // Lets the running segments finish (loadgen stops by itself) and waits for them.
    void stop() {
        stop_ = true;
        for (auto& chain : chains_)
            if (chain.joinable()) chain.join();
    }

    // The segments' summaries, and what went wrong running them (empty when nothing did).
    std::vector<nlohmann::json> summaries() const {
        std::lock_guard lock(mutex_);
        return summaries_;
    }
    std::vector<std::string> problems() const {
        std::lock_guard lock(mutex_);
        return problems_;
    }

private:
    void sleepUnlessStopped(std::chrono::milliseconds total) {
        const auto until = std::chrono::steady_clock::now() + total;
        while (!stop_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }

    void runSegment(int chain, int n) {
        const auto json = dir_ / ("load-" + std::to_string(chain) + "-" + std::to_string(n) + ".json");
        ChildProcess load;
        std::string error;
        if (!start_(load, seconds_, json, error)) {
            record({}, "segment " + json.filename().string() + " did not start: " + error);
            stop_ = true;
            return;
        }
        if (!load.waitExit(std::chrono::seconds(seconds_ + 60))) {
            record({}, "segment " + json.filename().string() + " did not stop by itself");
            return;
        }
        auto summary = nlohmann::json::parse(readFile(json), nullptr, false);
        if (summary.is_discarded()) record({}, "segment " + json.filename().string() + " wrote no summary: " + load.readStderr());
        else record(std::move(summary), "");
    }

    void record(nlohmann::json summary, const std::string& problem) {
        std::lock_guard lock(mutex_);
        if (!problem.empty()) problems_.push_back(problem);
        else summaries_.push_back(std::move(summary));
    }

    const std::filesystem::path dir_;
    const int seconds_;
    const StartSegment start_;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::vector<nlohmann::json> summaries_;
    std::vector<std::string> problems_;
    std::vector<std::thread> chains_;
};

}  // namespace hotgate::test

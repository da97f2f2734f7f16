// Recorder: one worker thread's tally of outcomes, latencies and serving versions, for the whole
// run and per second since the start. Each worker owns one; the reporter thread reads copies
// under the mutex once a second, so the lock is almost never contended.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "latency_histogram.h"
#include "outcome.h"

namespace hotgate::loadgen {

using Clock = std::chrono::steady_clock;

// Responses that carried no x-hotgate-version header are counted under this name.
inline constexpr std::string_view kNoVersion = "none";

struct VersionSeen {
    std::uint64_t count = 0;
    double first_s = 0;  // seconds since the start of the run
    double last_s = 0;
};
using VersionMap = std::map<std::string, VersionSeen, std::less<>>;
using CountMap = std::map<std::string, std::uint64_t, std::less<>>;

// The whole run.
struct Tally {
    PerKind<OutcomeCounts> outcomes{};
    PerKind<LatencyHistogram> latency;
    PerKind<VersionMap> versions;
    PerKind<std::uint64_t> connections{};  // connections (or WebSocket handshakes) opened
    PerKind<std::uint64_t> clean_closes{};  // keep-alive: server closed between requests, reconnected
    PerKind<std::array<CountMap, kOutcomes>> details;  // failure messages, by kind and outcome
    // --rate only: how late the client itself started each request (its own lag, not the server's).
    LatencyHistogram start_lag;

    void merge(const Tally& other);
};

// One second of the run, by completion time.
struct SecondTally {
    PerKind<OutcomeCounts> outcomes{};
    LatencyHistogram latency;  // every kind together
    PerKind<CountMap> versions;

    void merge(const SecondTally& other);
};

class Recorder {
public:
    // `seconds`: how many one-second slots to keep; later events go to the last slot.
    Recorder(Clock::time_point start, std::size_t seconds);
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    // A success, with its latency (from the scheduled start for --rate requests).
    void ok(TrafficKind kind, Clock::duration latency);
    // A failure (any outcome but ok); `detail` names the step and error ("read: Connection reset").
    void failure(TrafficKind kind, Outcome outcome, std::string_view detail);
    // A response (any status, or a 101) served by `version` ("" when the header was absent).
    void version(TrafficKind kind, std::string_view version);
    void connectionOpened(TrafficKind kind);
    void cleanClose(TrafficKind kind);
    // A --rate request started `lag` after its due time.
    void startLag(Clock::duration lag);

    // Copies, taken under the lock: safe from any thread while the workers run.
    SecondTally second(std::size_t index) const;
    Tally total() const;
    std::size_t seconds() const { return seconds_.size(); }

private:
    std::size_t slotNow(Clock::time_point now) const;
    double secondsSinceStart(Clock::time_point now) const;

    const Clock::time_point start_;
    mutable std::mutex mutex_;
    Tally total_;
    std::vector<SecondTally> seconds_;
};

}  // namespace hotgate::loadgen

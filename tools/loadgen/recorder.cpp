#include "recorder.h"

#include <algorithm>

namespace hotgate::loadgen {
namespace {

// Distinct failure messages kept per kind and outcome; the rest are folded into one entry.
constexpr std::size_t kMaxDetails = 32;
constexpr std::string_view kMoreDetails = "(other messages)";

void mergeVersions(VersionMap& into, const VersionMap& from) {
    for (const auto& [name, seen] : from) {
        auto [it, inserted] = into.try_emplace(name, seen);
        if (inserted) continue;
        VersionSeen& mine = it->second;
        mine.first_s = std::min(mine.first_s, seen.first_s);
        mine.last_s = std::max(mine.last_s, seen.last_s);
        mine.count += seen.count;
    }
}

void mergeCounts(CountMap& into, const CountMap& from) {
    for (const auto& [name, n] : from) into[name] += n;
}

}  // namespace

void Tally::merge(const Tally& other) {
    for (std::size_t k = 0; k < kTrafficKinds; ++k) {
        for (std::size_t o = 0; o < kOutcomes; ++o) {
            outcomes[k][o] += other.outcomes[k][o];
            mergeCounts(details[k][o], other.details[k][o]);
        }
        latency[k].merge(other.latency[k]);
        mergeVersions(versions[k], other.versions[k]);
        connections[k] += other.connections[k];
        clean_closes[k] += other.clean_closes[k];
    }
    start_lag.merge(other.start_lag);
}

void SecondTally::merge(const SecondTally& other) {
    for (std::size_t k = 0; k < kTrafficKinds; ++k) {
        for (std::size_t o = 0; o < kOutcomes; ++o) outcomes[k][o] += other.outcomes[k][o];
        mergeCounts(versions[k], other.versions[k]);
    }
    latency.merge(other.latency);
}

Recorder::Recorder(Clock::time_point start, std::size_t seconds)
    : start_(start), seconds_(std::max<std::size_t>(seconds, 1)) {}

std::size_t Recorder::slotNow(Clock::time_point now) const {
    if (now <= start_) return 0;
    const auto s = static_cast<std::size_t>(std::chrono::duration_cast<std::chrono::seconds>(now - start_).count());
    return std::min(s, seconds_.size() - 1);
}

double Recorder::secondsSinceStart(Clock::time_point now) const {
    return std::chrono::duration<double>(now - start_).count();
}

void Recorder::ok(TrafficKind kind, Clock::duration latency) {
    const auto now = Clock::now();
    std::lock_guard lock(mutex_);
    const std::size_t k = index(kind);
    ++total_.outcomes[k][index(Outcome::kOk)];
    total_.latency[k].record(latency);
    SecondTally& second = seconds_[slotNow(now)];
    ++second.outcomes[k][index(Outcome::kOk)];
    second.latency.record(latency);
}

void Recorder::failure(TrafficKind kind, Outcome outcome, std::string_view detail) {
    const auto now = Clock::now();
    std::lock_guard lock(mutex_);
    const std::size_t k = index(kind);
    const std::size_t o = index(outcome);
    ++total_.outcomes[k][o];
    ++seconds_[slotNow(now)].outcomes[k][o];
    CountMap& details = total_.details[k][o];
    auto it = details.find(detail);
    if (it != details.end()) {
        ++it->second;
    } else if (details.size() < kMaxDetails) {
        details.emplace(std::string(detail), 1);
    } else {
        ++details[std::string(kMoreDetails)];
    }
}

void Recorder::version(TrafficKind kind, std::string_view version) {
    if (version.empty()) version = kNoVersion;
    const auto now = Clock::now();
    const double at = secondsSinceStart(now);
    std::lock_guard lock(mutex_);
    const std::size_t k = index(kind);
    VersionMap& versions = total_.versions[k];
    auto it = versions.find(version);
    if (it == versions.end()) it = versions.emplace(std::string(version), VersionSeen{0, at, at}).first;
    ++it->second.count;
    it->second.last_s = at;
    CountMap& per_second = seconds_[slotNow(now)].versions[k];
    auto sit = per_second.find(version);
    if (sit == per_second.end()) sit = per_second.emplace(std::string(version), 0).first;
    ++sit->second;
}

void Recorder::connectionOpened(TrafficKind kind) {
    std::lock_guard lock(mutex_);
    ++total_.connections[index(kind)];
}

void Recorder::cleanClose(TrafficKind kind) {
    std::lock_guard lock(mutex_);
    ++total_.clean_closes[index(kind)];
}

void Recorder::startLag(Clock::duration lag) {
    std::lock_guard lock(mutex_);
    total_.start_lag.record(lag);
}

SecondTally Recorder::second(std::size_t index) const {
    std::lock_guard lock(mutex_);
    if (index >= seconds_.size()) return {};
    return seconds_[index];
}

Tally Recorder::total() const {
    std::lock_guard lock(mutex_);
    return total_;
}

}  // namespace hotgate::loadgen

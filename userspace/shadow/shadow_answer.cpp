#include "shadow/shadow_answer.h"

#include <cmath>
#include <algorithm>

namespace hotgate::shadow {
namespace {

std::string statusText(const Answer& answer) {
    return answer.status != 0 ? std::to_string(answer.status) : "none (" + answer.error + ")";
}

std::string fieldText(const std::string& value) { return value.empty() ? "(absent)" : value; }

}  // namespace

Tolerance Tolerance::fromConfig(const ShadowVerifyConfig& config) {
    return {config.headers, config.latency_tolerance,
            std::chrono::duration_cast<std::chrono::microseconds>(config.latency_floor)};
}

Differences compare(const Answer& running, const Answer& other) {
    Differences d;
    d.status = running.status != other.status;
    if (running.status == 0 || other.status == 0) return d;  // no answer: nothing else to compare
    d.body = running.body_sha256 != other.body_sha256;
    d.fields = running.fields != other.fields;
    return d;
}

bool latencyWithin(double running_ms, double other_ms, const Tolerance& tolerance) {
    const double floor_ms = static_cast<double>(tolerance.latency_floor.count()) / 1000.0;
    return std::abs(other_ms - running_ms) <= std::max(running_ms * tolerance.latency_share, floor_ms);
}

std::string describe(const Differences& differences, const Answer& running, const Answer& other) {
    std::vector<std::string> parts;
    if (differences.status) parts.push_back("status " + statusText(running) + " vs " + statusText(other));
    if (differences.body)
        parts.push_back("body " + running.body_sha256.substr(0, 8) + " vs " + other.body_sha256.substr(0, 8));
    if (differences.fields) {
        for (const auto& [name, value] : running.fields) {
            const auto theirs = other.fields.find(name);
            const std::string other_value = theirs == other.fields.end() ? std::string() : theirs->second;
            if (value != other_value) parts.push_back(name + " " + fieldText(value) + " vs " + fieldText(other_value));
        }
    }
    std::string out;
    for (const auto& part : parts) out += (out.empty() ? "" : "; ") + part;
    return out;
}

}  // namespace hotgate::shadow

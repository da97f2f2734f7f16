#include "fleet/rollout.h"

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

namespace hotgate::fleet {

std::string_view rolloutStateName(RolloutState state) {
    switch (state) {
        case RolloutState::Running: return "running";
        case RolloutState::Done: return "done";
        case RolloutState::RolledBack: return "rolled_back";
    }
    return "running";
}

bool Rollout::includes(const std::string& host) const {
    if (state != RolloutState::Running) return false;
    for (std::size_t wave = 0; wave < std::min(active, waves.size()); ++wave)
        if (std::find(waves[wave].begin(), waves[wave].end(), host) != waves[wave].end()) return true;
    return false;
}

std::optional<BinaryTarget> Rollout::binaryFor(const std::string& host, const std::string& stash) const {
    if (!binary) return std::nullopt;
    if (includes(host)) return binary;
    if (state != RolloutState::RolledBack) return std::nullopt;
    const auto before = previous.find(host);
    if (before == previous.end() || before->second.empty()) return std::nullopt;
    return BinaryTarget{stash + "/hotgate-bin-" + before->second, before->second};
}

std::string Rollout::toJson() const {
    nlohmann::json json{{"id", id},
                        {"candidate", candidate},
                        {"waves", waves},
                        {"active", active},
                        {"state", rolloutStateName(state)},
                        {"reason", reason}};
    if (binary) {
        json["binary"] = {{"source", binary->source}, {"sha256", binary->sha256}};
        json["previous"] = previous;
    }
    return json.dump();
}

Result<Rollout> Rollout::fromJson(const std::string& text) {
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_object()) return fail("rollout record: not a JSON object");
    try {
        Rollout rollout;
        rollout.id = json.at("id").get<std::string>();
        rollout.candidate = json.at("candidate").get<std::string>();
        rollout.waves = json.at("waves").get<std::vector<std::vector<std::string>>>();
        rollout.active = json.at("active").get<std::size_t>();
        rollout.reason = json.value("reason", std::string());
        if (json.contains("binary")) {
            rollout.binary = BinaryTarget{json["binary"].at("source").get<std::string>(),
                                          json["binary"].at("sha256").get<std::string>()};
            rollout.previous = json.value("previous", std::map<std::string, std::string>());
        }
        const auto state = json.at("state").get<std::string>();
        if (state == "running")
            rollout.state = RolloutState::Running;
        else if (state == "done")
            rollout.state = RolloutState::Done;
        else if (state == "rolled_back")
            rollout.state = RolloutState::RolledBack;
        else
            return fail("rollout record: unknown state \"", state, "\"");
        return rollout;
    } catch (const nlohmann::json::exception& e) {
        return fail("rollout record: ", e.what());
    }
}

Result<std::vector<std::vector<std::string>>> planWaves(const std::string& spec, const std::vector<std::string>& hosts) {
    std::vector<std::vector<std::string>> waves;
    std::size_t covered = 0;
    std::istringstream entries(spec);
    for (std::string entry; std::getline(entries, entry, ',');) {
        const bool share = !entry.empty() && entry.back() == '%';
        const std::string digits = share ? entry.substr(0, entry.size() - 1) : entry;
        if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
            digits.size() > 6)
            return fail("--waves: \"", entry, "\" is neither a host count (3) nor a share (25%)");
        const std::size_t number = std::stoul(digits);
        if (share && number > 100) return fail("--waves: ", entry, " is more than 100%");
        // A share rounds up: 25% of 3 hosts is 1 host, never 0.
        const std::size_t upto = share ? (hosts.size() * number + 99) / 100 : number;
        if (upto > hosts.size())
            return fail("--waves: ", entry, " is more hosts than the fleet has (", hosts.size(), ")");
        if (upto < covered) return fail("--waves: ", entry, " goes back below the waves before it");
        if (upto == covered) continue;
        waves.emplace_back(hosts.begin() + static_cast<std::ptrdiff_t>(covered),
                           hosts.begin() + static_cast<std::ptrdiff_t>(upto));
        covered = upto;
    }
    if (waves.empty()) return fail("--waves \"", spec, "\" reaches no host");
    if (covered != hosts.size())
        return fail("--waves \"", spec, "\" reaches ", covered, " of the fleet's ", hosts.size(),
                    " hosts; end it with 100%");
    return waves;
}

}  // namespace hotgate::fleet

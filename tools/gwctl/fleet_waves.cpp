#include "fleet_waves.h"

#include <iostream>
#include <thread>
#include <vector>

namespace gwctl {

namespace fleet = hotgate::fleet;

std::map<std::string, nlohmann::json> hostStatuses(fleet::EtcdClient& client, const std::string& prefix,
                                                   std::string& error) {
    std::map<std::string, nlohmann::json> out;
    auto hosts = client.list(prefix + "/hosts/");
    if (!hosts) {
        error = hosts.error().message;
        return out;
    }
    for (const auto& [key, value] : hosts->kvs) {
        auto status = nlohmann::json::parse(value.value, nullptr, false);
        if (status.is_object()) out[key.substr(prefix.size() + 7)] = std::move(status);
    }
    return out;
}

int rollBack(fleet::EtcdClient& client, const std::string& prefix, fleet::Rollout rollout, const std::string& reason) {
    rollout.state = fleet::RolloutState::RolledBack;
    rollout.reason = reason;
    if (auto put = client.put(fleet::rolloutKey(prefix), rollout.toJson()); !put) {
        std::cerr << "gwctl fleet: rolling " << rollout.id << " back failed: " << put.error().message << "\n";
        return 3;
    }
    std::cerr << "gwctl fleet: rolled back " << rollout.id << ": " << reason << "\n";
    return 1;
}

int driveWaves(fleet::EtcdClient& client, const std::string& prefix, fleet::Rollout& rollout, const WaveBounds& bounds,
               const JudgeHost& judge) {
    using Clock = std::chrono::steady_clock;
    const auto& waves = rollout.waves;
    for (std::size_t wave = 0; wave < waves.size(); ++wave) {
        rollout.active = wave + 1;
        if (auto put = client.put(fleet::rolloutKey(prefix), rollout.toJson()); !put)
            return rollBack(client, prefix, rollout, "etcd: " + put.error().message);
        std::cout << "wave " << wave + 1 << "/" << waves.size() << ":";
        for (const auto& host : waves[wave]) std::cout << " " << host;
        std::cout << std::endl;
        const auto give_up = Clock::now() + bounds.timeout;
        bool healthy = false;  // every host of the open waves, since healthy_since
        Clock::time_point healthy_since;
        for (;;) {
            // Rolled back meanwhile (gwctl fleet rollback, another operator): nothing more to do.
            if (auto record = client.get(fleet::rolloutKey(prefix)); record && record->kv) {
                auto now = fleet::Rollout::fromJson(record->kv->value);
                if (now && (now->id != rollout.id || now->state != fleet::RolloutState::Running)) {
                    std::cerr << "gwctl fleet: rollout " << rollout.id << " ended meanwhile"
                              << (now->id == rollout.id && !now->reason.empty() ? ": " + now->reason : std::string())
                              << "\n";
                    return 1;
                }
            }
            std::string error;
            const auto statuses = hostStatuses(client, prefix, error);
            std::vector<std::string> waiting;
            for (std::size_t w = 0; w <= wave; ++w)
                for (const auto& host : waves[w]) {
                    const auto found = statuses.find(host);
                    if (found == statuses.end()) {
                        waiting.push_back(host + " (not registered)");
                        continue;
                    }
                    std::string why;
                    switch (judge(found->second, why)) {
                        case HostStep::Failed: return rollBack(client, prefix, rollout, "host " + host + " " + why);
                        case HostStep::Waiting: waiting.push_back(host); break;
                        case HostStep::Healthy: break;
                    }
                }
            if (waiting.empty()) {
                if (!healthy) healthy_since = Clock::now();
                healthy = true;
                if (Clock::now() - healthy_since >= bounds.gate) break;
            } else {
                healthy = false;
            }
            if (Clock::now() >= give_up) {
                std::string list;
                for (const auto& host : waiting) list += (list.empty() ? "" : ", ") + host;
                return rollBack(client, prefix, rollout,
                                "wave " + std::to_string(wave + 1) + " not healthy within " + bounds.timeout_text +
                                    ": " + list);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        std::cout << "wave " << wave + 1 << " healthy for " << bounds.gate_text << std::endl;
    }
    return 0;
}

}  // namespace gwctl

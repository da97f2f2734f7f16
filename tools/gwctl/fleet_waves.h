// The waves of a fleet rollout (docs/fleet.md, "Rollouts"), driven from gwctl: each wave is
// opened by a write of the rollout record; the next one waits until every host of the waves
// open so far is healthy on the candidate for the gate period. A host that fails on it, or a
// wave that is not healthy within the timeout, rolls the whole rollout back (every host
// returns to what it had), recorded with the reason. Shared by `fleet rollout` (a config) and
// `fleet upgrade` (a binary), which differ only in what "on the candidate" means.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "fleet/etcd_client.h"
#include "fleet/rollout.h"

namespace gwctl {

// The registered hosts' status documents by host id (`error` set when etcd cannot be read).
std::map<std::string, nlohmann::json> hostStatuses(hotgate::fleet::EtcdClient& client, const std::string& prefix,
                                                   std::string& error);

// What a host's status says of the candidate.
enum class HostStep {
    Waiting,  // not on it yet, or not healthy yet
    Healthy,  // on it, and healthy
    Failed,   // refused it, failed on it, or unhealthy on it: `why`
};
using JudgeHost = std::function<HostStep(const nlohmann::json& status, std::string& why)>;

struct WaveBounds {
    std::chrono::milliseconds gate;
    std::chrono::milliseconds timeout;
    std::string gate_text;  // as given, for messages
    std::string timeout_text;
};

// Opens the waves of `rollout` (already written, running, none active) one by one. Returns 0
// when every wave was healthy for the gate (the caller finishes the rollout), else the exit
// status of the rollback (1; 3 when etcd could not be written), or 1 when the record says it
// was rolled back by someone else meanwhile.
int driveWaves(hotgate::fleet::EtcdClient& client, const std::string& prefix, hotgate::fleet::Rollout& rollout,
               const WaveBounds& bounds, const JudgeHost& judge);

// Marks the rollout rolled back and says why on stderr; 1, or 3 when etcd could not be written.
int rollBack(hotgate::fleet::EtcdClient& client, const std::string& prefix, hotgate::fleet::Rollout rollout,
             const std::string& reason);

}  // namespace gwctl

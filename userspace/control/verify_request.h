// Verify: `gwctl verify` asks the running version to compare its answers with the ready
// version's on mirrored live requests, or (replay) with its own recorded ones
// (docs/verification.md, shadow/shadow_verifier.h).
//
// Payload: {"samples": 1..10000, "routes": ["name", ...], "timeout_ms": 1..600000, "replay": bool}
// Reply: Ok {message, report} when every sample matched, Error {message, report?} otherwise;
// `report` is shadow::ShadowReport's JSON.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace hotgate::control {

struct VerifyRequest {
    static constexpr std::size_t kMaxSamples = 10'000;
    static constexpr std::chrono::milliseconds kMaxTimeout{600'000};

    std::size_t samples = 100;
    std::vector<std::string> routes;  // none: every route
    std::chrono::milliseconds timeout{30'000};
    bool replay = false;

    nlohmann::json toJson() const;
    // Errors name the field: "Verify: samples must be an integer from 1 to 10000".
    static Result<VerifyRequest> fromJson(const nlohmann::json& payload);
};

}  // namespace hotgate::control

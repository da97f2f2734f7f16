#include "control/verify_request.h"

namespace hotgate::control {

using nlohmann::json;

json VerifyRequest::toJson() const {
    return {{"samples", samples}, {"routes", routes}, {"timeout_ms", timeout.count()}, {"replay", replay}};
}

Result<VerifyRequest> VerifyRequest::fromJson(const json& payload) {
    if (!payload.is_object()) return fail("Verify needs a JSON object");
    VerifyRequest request;
    if (payload.contains("samples")) {
        const auto& samples = payload["samples"];
        if (!samples.is_number_integer() || samples.get<std::int64_t>() < 1 ||
            samples.get<std::int64_t>() > static_cast<std::int64_t>(kMaxSamples))
            return fail("Verify: samples must be an integer from 1 to ", kMaxSamples);
        request.samples = samples.get<std::size_t>();
    }
    if (payload.contains("routes")) {
        const auto& routes = payload["routes"];
        if (!routes.is_array()) return fail("Verify: routes must be an array of route names");
        for (const auto& route : routes) {
            if (!route.is_string() || route.get<std::string>().empty())
                return fail("Verify: routes must be an array of route names");
            request.routes.push_back(route.get<std::string>());
        }
    }
    if (payload.contains("timeout_ms")) {
        const auto& timeout = payload["timeout_ms"];
        if (!timeout.is_number_integer() || timeout.get<std::int64_t>() < 1 ||
            timeout.get<std::int64_t>() > kMaxTimeout.count())
            return fail("Verify: timeout_ms must be an integer from 1 to ", kMaxTimeout.count());
        request.timeout = std::chrono::milliseconds(timeout.get<std::int64_t>());
    }
    if (payload.contains("replay")) {
        if (!payload["replay"].is_boolean()) return fail("Verify: replay must be true or false");
        request.replay = payload["replay"].get<bool>();
    }
    return request;
}

}  // namespace hotgate::control

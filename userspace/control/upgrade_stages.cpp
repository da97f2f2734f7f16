#include "control/upgrade_stages.h"

namespace hotgate::control {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxStages = 8;

Result<GwctlStage> stageNamed(std::string_view name) {
    for (auto stage : {GwctlStage::Download, GwctlStage::Verify, GwctlStage::PreCheck})
        if (gwctlStageName(stage) == name) return stage;
    return fail("UpgradeStages: unknown stage '", name,
                "' (hot-update:download, hot-update:verify or hot-update:pre-check)");
}

Result<std::uint64_t> unixNanos(const json& stage, const char* key, std::size_t index) {
    if (!stage.contains(key) || !stage[key].is_number_unsigned())
        return fail("UpgradeStages: stages[", index, "].", key, " must be a non-negative integer");
    return stage[key].get<std::uint64_t>();
}

}  // namespace

std::string_view gwctlStageName(GwctlStage stage) {
    switch (stage) {
        case GwctlStage::Download: return "hot-update:download";
        case GwctlStage::Verify: return "hot-update:verify";
        case GwctlStage::PreCheck: return "hot-update:pre-check";
    }
    return "?";
}

json UpgradeStagesReport::toJson() const {
    json out{{"pid", pid}, {"stages", json::array()}};
    for (const auto& stage : stages)
        out["stages"].push_back({{"name", gwctlStageName(stage.stage)},
                                 {"start_unix_nanos", stage.start_unix_nanos},
                                 {"end_unix_nanos", stage.end_unix_nanos},
                                 {"ok", stage.ok},
                                 {"message", stage.message},
                                 {"attributes", stage.attributes}});
    return out;
}

Result<UpgradeStagesReport> UpgradeStagesReport::fromJson(const json& payload) {
    UpgradeStagesReport report;
    if (!payload.is_object() || !payload.contains("pid") || !payload["pid"].is_number_integer() ||
        payload["pid"].get<std::int64_t>() < 0 || payload["pid"].get<std::int64_t>() > INT32_MAX)
        return fail("UpgradeStages needs an integer field 'pid' (0 or the new version's)");
    report.pid = payload["pid"].get<int>();
    if (!payload.contains("stages") || !payload["stages"].is_array())
        return fail("UpgradeStages needs an array field 'stages'");
    if (payload["stages"].size() > kMaxStages)
        return fail("UpgradeStages: ", payload["stages"].size(), " stages, at most ", kMaxStages);
    std::size_t index = 0;
    for (const auto& item : payload["stages"]) {
        if (!item.is_object() || !item.contains("name") || !item["name"].is_string())
            return fail("UpgradeStages: stages[", index, "] needs a string field 'name'");
        ReportedStage stage;
        auto named = stageNamed(item["name"].get<std::string>());
        if (!named) return tl::unexpected(named.error());
        stage.stage = *named;
        auto start = unixNanos(item, "start_unix_nanos", index);
        if (!start) return tl::unexpected(start.error());
        auto end = unixNanos(item, "end_unix_nanos", index);
        if (!end) return tl::unexpected(end.error());
        if (*end < *start) return fail("UpgradeStages: stages[", index, "] ends before it starts");
        stage.start_unix_nanos = *start;
        stage.end_unix_nanos = *end;
        if (item.contains("ok") && !item["ok"].is_boolean())
            return fail("UpgradeStages: stages[", index, "].ok must be true or false");
        stage.ok = item.value("ok", true);
        if (item.contains("message") && item["message"].is_string()) stage.message = item["message"].get<std::string>();
        if (item.contains("attributes")) {
            if (!item["attributes"].is_object())
                return fail("UpgradeStages: stages[", index, "].attributes must be an object");
            for (const auto& [key, value] : item["attributes"].items())
                if (!value.is_string() && !value.is_number() && !value.is_boolean())
                    return fail("UpgradeStages: stages[", index, "].attributes.", key,
                                " must be a string, a number or a bool");
            stage.attributes = item["attributes"];
        }
        report.stages.push_back(std::move(stage));
        ++index;
    }
    return report;
}

}  // namespace hotgate::control

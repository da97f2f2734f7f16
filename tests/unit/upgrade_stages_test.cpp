// gwctl's UpgradeStages report (control/upgrade_stages.h): it round-trips, and every malformed
// payload is refused with the field named, so a bad control message never reaches a trace.
#include <gtest/gtest.h>

#include "control/upgrade_stages.h"

namespace hotgate::control {
namespace {

using nlohmann::json;

json stage(const std::string& name, std::uint64_t start = 10, std::uint64_t end = 20) {
    return {{"name", name}, {"start_unix_nanos", start}, {"end_unix_nanos", end}};
}

std::string refusal(const json& payload) {
    auto report = UpgradeStagesReport::fromJson(payload);
    return report ? "(accepted)" : report.error().message;
}

TEST(UpgradeStages, RoundTrips) {
    UpgradeStagesReport report;
    report.pid = 4242;
    ReportedStage verify{GwctlStage::Verify, 100, 250};
    verify.ok = false;
    verify.message = "sha256 mismatch";
    verify.attributes = {{"sha256", "ab"}, {"signature_valid", false}, {"bytes", 7}, {"ratio", 0.5}};
    report.stages = {ReportedStage{GwctlStage::Download, 1, 100}, verify, ReportedStage{GwctlStage::PreCheck, 250, 300}};
    const auto decoded = UpgradeStagesReport::fromJson(report.toJson());
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(decoded->pid, 4242);
    ASSERT_EQ(decoded->stages.size(), 3u);
    EXPECT_EQ(decoded->stages[0].stage, GwctlStage::Download);
    EXPECT_EQ(decoded->stages[1].stage, GwctlStage::Verify);
    EXPECT_FALSE(decoded->stages[1].ok);
    EXPECT_EQ(decoded->stages[1].message, "sha256 mismatch");
    EXPECT_EQ(decoded->stages[1].attributes, verify.attributes);
    EXPECT_EQ(decoded->stages[2].start_unix_nanos, 250u);
    EXPECT_EQ(decoded->stages[2].end_unix_nanos, 300u);
    EXPECT_EQ(gwctlStageName(GwctlStage::PreCheck), "hot-update:pre-check");
}

TEST(UpgradeStages, RefusesMalformedPayloadsNamingTheField) {
    EXPECT_NE(refusal(json::array()).find("'pid'"), std::string::npos);
    EXPECT_NE(refusal({{"pid", -1}, {"stages", json::array()}}).find("'pid'"), std::string::npos);
    EXPECT_NE(refusal({{"pid", 1}}).find("'stages'"), std::string::npos);
    EXPECT_NE(refusal({{"pid", 1}, {"stages", {stage("hot-update:swap")}}}).find("unknown stage 'hot-update:swap'"),
              std::string::npos);
    EXPECT_NE(refusal({{"pid", 1}, {"stages", {stage("hot-update:verify", 20, 10)}}}).find("ends before it starts"),
              std::string::npos);
    auto no_time = stage("hot-update:verify");
    no_time.erase("end_unix_nanos");
    EXPECT_NE(refusal({{"pid", 1}, {"stages", {no_time}}}).find("stages[0].end_unix_nanos"), std::string::npos);
    auto nested = stage("hot-update:verify");
    nested["attributes"] = {{"deep", {{"a", 1}}}};
    EXPECT_NE(refusal({{"pid", 1}, {"stages", {nested}}}).find("stages[0].attributes.deep"), std::string::npos);
    auto bad_ok = stage("hot-update:verify");
    bad_ok["ok"] = "yes";
    EXPECT_NE(refusal({{"pid", 1}, {"stages", {bad_ok}}}).find("stages[0].ok"), std::string::npos);
    json many = json::array();
    for (int i = 0; i < 9; ++i) many.push_back(stage("hot-update:verify"));
    EXPECT_NE(refusal({{"pid", 1}, {"stages", many}}).find("at most 8"), std::string::npos);
}

}  // namespace
}  // namespace hotgate::control

// mergeExpositions: another version's samples land under the same family's HELP/TYPE, so the
// merged text is one valid exposition (each family once), and nothing is lost or repeated.
#include <gtest/gtest.h>

#include "observability/exposition_merge.h"

namespace hotgate {
namespace {

const char* kOwn =
    "# HELP hotgate_http_requests_total HTTP requests answered\n"
    "# TYPE hotgate_http_requests_total counter\n"
    "hotgate_http_requests_total{version=\"a\",status=\"2xx\"} 10\n"
    "# HELP hotgate_active_connections Client connections currently open\n"
    "# TYPE hotgate_active_connections gauge\n"
    "hotgate_active_connections{version=\"a\"} 3\n";

const char* kOther =
    "# HELP hotgate_http_request_duration_seconds Time\n"
    "# TYPE hotgate_http_request_duration_seconds histogram\n"
    "hotgate_http_request_duration_seconds_bucket{version=\"b\",le=\"+Inf\"} 7\n"
    "hotgate_http_request_duration_seconds_count{version=\"b\"} 7\n"
    "# a comment that is neither HELP nor TYPE\n"
    "# HELP hotgate_http_requests_total HTTP requests answered\n"
    "# TYPE hotgate_http_requests_total counter\n"
    "hotgate_http_requests_total{version=\"b\",status=\"2xx\"} 7\n";

std::size_t count(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

TEST(ExpositionMerge, OtherSamplesJoinTheSameFamilyBlock) {
    const auto merged = mergeExpositions(kOwn, {kOther});
    EXPECT_EQ(count(merged, "# TYPE hotgate_http_requests_total counter"), 1u) << merged;
    const auto own_sample = merged.find("hotgate_http_requests_total{version=\"a\"");
    const auto other_sample = merged.find("hotgate_http_requests_total{version=\"b\"");
    const auto next_family = merged.find("# HELP hotgate_active_connections");
    ASSERT_NE(other_sample, std::string::npos) << merged;
    EXPECT_LT(own_sample, other_sample);
    EXPECT_LT(other_sample, next_family) << "the other version's sample sits in the family's block:\n" << merged;
}

TEST(ExpositionMerge, FamiliesOnlyTheOtherHasAreAppendedWhole) {
    const auto merged = mergeExpositions(kOwn, {kOther});
    const auto help = merged.find("# HELP hotgate_http_request_duration_seconds");
    const auto type = merged.find("# TYPE hotgate_http_request_duration_seconds histogram");
    const auto bucket = merged.find("hotgate_http_request_duration_seconds_bucket{version=\"b\"");
    ASSERT_NE(help, std::string::npos) << merged;
    EXPECT_LT(help, type);
    EXPECT_LT(type, bucket);
    EXPECT_EQ(count(merged, "_count{version=\"b\"} 7"), 1u);
    EXPECT_EQ(merged.find("neither HELP nor TYPE"), std::string::npos);
}

TEST(ExpositionMerge, NothingToMergeLeavesTheTextAsItWas) {
    EXPECT_EQ(mergeExpositions(kOwn, {}), kOwn);
    EXPECT_EQ(mergeExpositions(kOwn, {""}), kOwn);
}

TEST(ExpositionMerge, SeveralOthersKeepEverySampleOnce) {
    const std::string third =
        "# TYPE hotgate_http_requests_total counter\n"
        "hotgate_http_requests_total{version=\"c\",status=\"5xx\"} 1\n";
    const auto merged = mergeExpositions(kOwn, {kOther, third});
    EXPECT_EQ(count(merged, "hotgate_http_requests_total{"), 3u) << merged;
    EXPECT_EQ(count(merged, "# TYPE hotgate_http_requests_total"), 1u) << merged;
}

}  // namespace
}  // namespace hotgate

// Loading access_log: absent (no sinks, the same hash), one sink as a mapping or a list of
// them, the defaults, and each refusal naming its config path.
#include <gtest/gtest.h>

#include <string>

#include "config/config_diff.h"
#include "config/config_loader.h"
#include "load_problems.h"

namespace hotgate {
namespace {

const std::string kBase = R"(listeners: [{name: public, address: 127.0.0.1:8080}]
routes: [{name: all, match: {path_prefix: /}, direct_response: {status: 200}}]
)";

TEST(AccessLogConfig, AbsentMeansNoSinkAndTheSameHash) {
    auto plain = loadConfigText(kBase, "test.yaml");
    ASSERT_TRUE(plain) << formatProblems(plain.error());
    EXPECT_TRUE((*plain)->access_log.empty());
    auto empty = loadConfigText(kBase + "access_log: []\n", "test.yaml");
    ASSERT_TRUE(empty) << formatProblems(empty.error());
    EXPECT_EQ((*empty)->hash, (*plain)->hash);
}

TEST(AccessLogConfig, OneSinkAsAMappingTakesTheDefaults) {
    auto config = loadConfigText(kBase + "access_log:\n  path: /var/log/hotgate/access.log\n", "test.yaml");
    ASSERT_TRUE(config) << formatProblems(config.error());
    ASSERT_EQ((*config)->access_log.size(), 1u);
    const auto& sink = (*config)->access_log[0];
    EXPECT_EQ(sink.path, "/var/log/hotgate/access.log");
    EXPECT_EQ(sink.format, AccessLogFormat::Json);
    EXPECT_EQ(sink.sample, 1.0);
    const std::vector<AccessField> issue_fields = {
        AccessField::Time,       AccessField::ClientIp,    AccessField::Method,     AccessField::Path,
        AccessField::Status,     AccessField::BytesSent,   AccessField::DurationMs, AccessField::Route,
        AccessField::Cluster,    AccessField::Upstream,    AccessField::UpstreamMs, AccessField::Attempts,
        AccessField::Version,    AccessField::RequestId,   AccessField::Traceparent, AccessField::TlsVersion,
        AccessField::Sni};
    EXPECT_EQ(sink.fields, issue_fields);
    // The same sink written as a one-entry list is the same config.
    auto listed = loadConfigText(kBase + "access_log:\n  - path: /var/log/hotgate/access.log\n", "test.yaml");
    ASSERT_TRUE(listed) << formatProblems(listed.error());
    EXPECT_EQ((*listed)->hash, (*config)->hash);
}

TEST(AccessLogConfig, ReadsSeveralSinksInOrder) {
    auto config = loadConfigText(kBase + R"(access_log:
  - {path: "-", format: json, fields: [status, path, version], sample: 0.25}
  - {path: /var/log/hotgate/combined.log, format: combined}
)",
                                 "test.yaml");
    ASSERT_TRUE(config) << formatProblems(config.error());
    ASSERT_EQ((*config)->access_log.size(), 2u);
    EXPECT_EQ((*config)->access_log[0].path, "-");
    EXPECT_EQ((*config)->access_log[0].fields,
              (std::vector<AccessField>{AccessField::Status, AccessField::Path, AccessField::Version}));
    EXPECT_EQ((*config)->access_log[0].sample, 0.25);
    EXPECT_EQ((*config)->access_log[1].format, AccessLogFormat::Combined);
}

TEST(AccessLogConfig, EveryChangeAppliesInPlace) {
    auto before = loadConfigText(kBase + "access_log: {path: /tmp/a.log}\n", "test.yaml");
    auto after = loadConfigText(
        kBase + "access_log: [{path: /tmp/b.log, format: json, fields: [status], sample: 0.5}]\n", "test.yaml");
    ASSERT_TRUE(before && after);
    const auto diff = diffConfigs(**before, **after);
    ASSERT_FALSE(diff.changes.empty());
    for (const auto& change : diff.changes) {
        EXPECT_EQ(change.section, schema::ConfigSection::AccessLog) << change.path;
        EXPECT_FALSE(change.needs_new_version) << change.path;
    }
}

TEST(AccessLogConfig, RefusalsNameTheKey) {
    EXPECT_NE(problemsOf(kBase + "access_log: {path: logs/access.log}\n")
                  .find("access_log.path: must be an absolute file path or \"-\""),
              std::string::npos);
    EXPECT_NE(problemsOf(kBase + "access_log: {path: /tmp/a.log, format: xml}\n")
                  .find("access_log.format: must be 'json' or 'combined', got 'xml'"),
              std::string::npos);
    EXPECT_NE(problemsOf(kBase + "access_log: {path: /tmp/a.log, fields: [status, colour]}\n").find("colour"),
              std::string::npos);
    EXPECT_NE(problemsOf(kBase + "access_log: {path: /tmp/a.log, fields: [status, status]}\n").find("duplicate field"),
              std::string::npos);
    EXPECT_NE(problemsOf(kBase + "access_log: {path: /tmp/a.log, fields: []}\n").find("at least one field"),
              std::string::npos);
    EXPECT_NE(problemsOf(kBase + "access_log: {path: /tmp/a.log, format: combined, fields: [status]}\n")
                  .find("access_log.fields: choose the keys of a json line"),
              std::string::npos);
    EXPECT_NE(problemsOf(kBase + "access_log: {path: /tmp/a.log, sample: 1.5}\n").find("access_log.sample"),
              std::string::npos);
    EXPECT_NE(problemsOf(kBase + "access_log: [{path: /tmp/a.log}, {path: /tmp/a.log, format: combined}]\n")
                  .find("access_log[1].path: \"/tmp/a.log\" is also access_log[0]'s"),
              std::string::npos);
    EXPECT_NE(problemsOf(kBase + "access_log: [{format: json}]\n").find("access_log[0]"), std::string::npos);
    EXPECT_NE(problemsOf(kBase + "access_log: /tmp/a.log\n").find("access_log"), std::string::npos);
}

}  // namespace
}  // namespace hotgate

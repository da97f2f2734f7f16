// A fleet host's merged config (fleet/config_document.h): the host's part and etcd's in one
// self-describing text, keys in both places or in the wrong place refused with both places
// named, and the loader's problems in etcd's part given etcd's own line numbers.
#include <gtest/gtest.h>

#include "config/config_loader.h"
#include "fleet/config_document.h"

namespace hotgate::fleet {
namespace {

constexpr const char* kLocal =
    "workers: 1\n"
    "listeners:\n"
    "  - { name: web, address: 127.0.0.1:8080 }\n";
constexpr const char* kFleet =
    "routes:\n"
    "  - name: hello\n"
    "    match: { path_prefix: / }\n"
    "    direct_response: { body: hi }\n";

TEST(ConfigDocument, MergesTheHostsPartAndEtcdsIntoOneLoadableText) {
    auto merged = mergeConfig(kLocal, "host.yaml", kFleet, "etcd /p/config", 42);
    ASSERT_TRUE(merged) << merged.error().message;
    EXPECT_EQ(merged->etcd_first_line, 5);
    auto loaded = loadConfigText(merged->text, "merged.yaml");
    ASSERT_TRUE(loaded) << formatProblems(loaded.error());
    EXPECT_EQ((*loaded)->routes.at(0).name, "hello");
    // Self-describing: each part comes back out, so a process started on it merges again.
    EXPECT_EQ(localPart(merged->text), kLocal);
    EXPECT_EQ(etcdPart(merged->text), kFleet);
    EXPECT_EQ(localPart(kLocal), kLocal);
    EXPECT_EQ(etcdPart(kLocal), "");
}

TEST(ConfigDocument, AKeyInBothPlacesNamesBoth) {
    const std::string fleet = std::string(kFleet) + "limits: {max_connections: 10}\n";
    const std::string local = std::string(kLocal) + "limits: {max_connections: 5}\n";
    auto merged = mergeConfig(local, "host.yaml", fleet, "etcd /p/config", 1);
    ASSERT_FALSE(merged);
    EXPECT_EQ(merged.error().message, "etcd /p/config:5: limits is set both here and in host.yaml:4; a key belongs to "
                                      "one of them");
}

TEST(ConfigDocument, TheHostsOwnKeysStayOutOfEtcd) {
    for (const char* key : {"workers: 2\n", "admin: {address: 127.0.0.1:9}\n", "listeners: []\n",
                            "dataplane: {steering: off}\n", "config_source: {}\n"}) {
        auto merged = mergeConfig("", "host.yaml", std::string(kFleet) + key, "etcd /p/config", 1);
        ASSERT_FALSE(merged) << key;
        EXPECT_NE(merged.error().message.find("belongs to each host's own file"), std::string::npos)
            << merged.error().message;
        EXPECT_EQ(merged.error().message.rfind("etcd /p/config:5: ", 0), 0u) << merged.error().message;
    }
}

TEST(ConfigDocument, EachPartMustBeAMapping) {
    EXPECT_FALSE(mergeConfig(kLocal, "host.yaml", "- a\n- b\n", "etcd /p/config", 1));
    EXPECT_FALSE(mergeConfig(kLocal, "host.yaml", "routes: [\n", "etcd /p/config", 1));
    EXPECT_TRUE(mergeConfig(kLocal, "host.yaml", "", "etcd /p/config", 1));  // empty: nothing shared
}

TEST(ConfigDocument, ProblemsInEtcdsPartCarryEtcdsLines) {
    const std::string fleet = std::string(kFleet) + "timeouts: {idle: forever}\n";
    auto merged = mergeConfig(kLocal, "host.yaml", fleet, "etcd /p/config", 7);
    ASSERT_TRUE(merged);
    auto loaded = loadConfigText(merged->text, "merged.yaml");
    ASSERT_FALSE(loaded);
    const auto problems = attributeProblems(loaded.error(), *merged, "etcd /p/config");
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].file, "etcd /p/config");
    EXPECT_EQ(problems[0].line, 5);
    EXPECT_NE(problems[0].message.find("timeouts.idle"), std::string::npos) << problems[0].message;
}

TEST(ConfigDocument, ConfigSourceIsReadBeforeTheRestCanBeValidated) {
    const std::string local = std::string(kLocal) +
                              "config_source:\n  etcd:\n    endpoints: [\"http://127.0.0.1:2379\"]\n"
                              "    prefix: /p\n    last_good: /var/lib/hotgate/last-good.yaml\n";
    auto source = etcdSourceOf(local, "host.yaml");
    ASSERT_TRUE(source) << source.error().message;
    ASSERT_TRUE(source->has_value());
    EXPECT_EQ((*source)->endpoints, std::vector<std::string>{"http://127.0.0.1:2379"});
    EXPECT_EQ((*source)->prefix, "/p");
    EXPECT_FALSE((*source)->host_id.empty());  // the host name
    auto none = etcdSourceOf(kLocal, "host.yaml");
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    EXPECT_FALSE(etcdSourceOf(std::string(kLocal) + "config_source:\n  etcd: {prefix: /p}\n", "host.yaml"));
}

TEST(ConfigDocument, TlsToEtcdIsReadWithItsSchemeAndCheckedWhole) {
    const std::string etcd = "config_source:\n  etcd:\n    prefix: /p\n    last_good: /var/lib/hotgate/lg.yaml\n";
    auto source = etcdSourceOf(std::string(kLocal) + etcd +
                                   "    endpoints: [\"https://127.0.0.1:2379\"]\n    tls:\n      ca_file: /etc/ca.pem\n"
                                   "      cert_file: /etc/c.pem\n      key_file: /etc/c.key\n",
                               "host.yaml");
    ASSERT_TRUE(source) << source.error().message;
    ASSERT_TRUE(source->has_value() && (*source)->tls);
    EXPECT_EQ((*source)->tls->ca_file, "/etc/ca.pem");
    EXPECT_EQ((*source)->tls->key_file, "/etc/c.key");
    // https without tls, http with it, a certificate without its key: each named.
    auto plain = etcdSourceOf(std::string(kLocal) + etcd + "    endpoints: [\"https://127.0.0.1:2379\"]\n", "host.yaml");
    ASSERT_FALSE(plain);
    EXPECT_NE(plain.error().message.find("host.yaml:6: config_source.etcd.endpoints[0]: an etcd endpoint is "
                                         "http://host:port (https:// needs config_source.etcd.tls)"),
              std::string::npos)
        << plain.error().message;
    auto mixed = etcdSourceOf(std::string(kLocal) + etcd +
                                  "    endpoints: [\"http://127.0.0.1:2379\"]\n    tls:\n      ca_file: /etc/ca.pem\n"
                                  "      cert_file: /etc/c.pem\n",
                              "host.yaml");
    ASSERT_FALSE(mixed);
    EXPECT_NE(mixed.error().message.find("with tls, an etcd endpoint is https://host:port"), std::string::npos)
        << mixed.error().message;
    EXPECT_NE(mixed.error().message.find("config_source.etcd.tls: cert_file and key_file go together"),
              std::string::npos)
        << mixed.error().message;
}

TEST(ConfigDocument, ABadConfigSourceIsNamedByTheLoader) {
    const std::string merged = std::string(kLocal) + kFleet +
                               "config_source:\n  etcd:\n    endpoints: [\"https://127.0.0.1:2379/v3\"]\n"
                               "    prefix: hotgate/\n    last_good: relative.yaml\n";
    auto loaded = loadConfigText(merged, "host.yaml");
    ASSERT_FALSE(loaded);
    const std::string problems = formatProblems(loaded.error());
    EXPECT_NE(problems.find("config_source.etcd.endpoints[0]"), std::string::npos) << problems;
    EXPECT_NE(problems.find("config_source.etcd.prefix: must start with /"), std::string::npos) << problems;
    EXPECT_NE(problems.find("config_source.etcd.last_good: must be an absolute path"), std::string::npos) << problems;
}

}  // namespace
}  // namespace hotgate::fleet

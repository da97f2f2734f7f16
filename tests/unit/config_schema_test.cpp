// The config schema: every key the canonical form writes is documented, every documented key
// is exercised, the restart decision is the one of before the tables, a key is one table row (read,
// defaulted, refused when unknown, written and documented from that row alone), and the
// reference says what each key is.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "config/config_diff.h"
#include "config/config_loader.h"
#include "config/schema/schema.h"
#include "config/schema/tables.h"
#include "config_samples.h"

namespace hotgate {
namespace {

using schema::Applies;
using schema::ConfigSection;

ConfigSnapshot everyKey() {
    auto config = loadConfigText(test::kEveryKeyConfig, "/etc/hotgate/every.yaml");
    EXPECT_TRUE(config) << (config ? "" : formatProblems(config.error()));
    return config ? *config : nullptr;
}

std::string reference() {
    std::ostringstream out;
    schema::writeReference(out);
    return out.str();
}

// The reference's paths of every key: "timeouts.idle", "listeners[].tls.certificates[].sni".
std::set<std::string> documentedKeys() {
    std::set<std::string> keys;
    for (const auto& section : schema::sections()) {
        schema::Reference docs;
        section.row.describe(docs, "");
        for (const auto& doc : docs) keys.insert(doc.path);
    }
    return keys;
}

// "routes[api].match.host" -> "routes[].match.host"; "…certificates[1].sni" -> "…certificates[].sni".
std::string keyOf(const std::string& path) { return std::regex_replace(path, std::regex(R"(\[[^\]]*\])"), "[]"); }

TEST(ConfigSchema, EveryCanonicalLineIsADocumentedKeyAndEveryKeyIsExercised) {
    const auto config = everyKey();
    ASSERT_TRUE(config);
    const auto documented = documentedKeys();
    std::set<std::string> written;
    for (const auto& line : schema::canonicalForm(*config).lines) {
        const auto key = keyOf(line.path);
        if (key.ends_with("[].order")) continue;  // a route's position, not a key of the file
        EXPECT_TRUE(documented.count(key)) << line.path << " is written but not documented";
        written.insert(key);
    }
    // Every documented value (not the mappings and lists around them, nor names, which are in
    // the paths) appears in the sample, so the hash pins cover it.
    for (const auto& section : schema::sections()) {
        schema::Reference docs;
        section.row.describe(docs, "");
        for (const auto& doc : docs) {
            if (!doc.applies || doc.type.type.starts_with("list of") || doc.path.ends_with("[].name")) continue;
            EXPECT_TRUE(written.count(doc.path)) << doc.path << " is not in tests/unit/config_samples.h";
        }
    }
}

// How the keys that existed before the schema apply, as the diff decided it by path prefix then:
// sockets, threads and the data plane are made at start; certificates are read per handshake.
// A key added since states its own in its row, and is in neither list.
TEST(ConfigSchema, TheKeysOfBeforeTheSchemaApplyAsTheyDid) {
    const std::set<std::string> new_version = {
        "workers", "admin.address", "dataplane.steering", "dataplane.bpffs_root", "dataplane.xdp_interfaces",
        "listeners[].address", "health.enabled", "health.spike_threshold", "health.spike_p99_factor",
        "health.spike_floor", "health.window",
    };
    const std::set<std::string> in_place = {
        "listeners[].tls.certificates[].certificate_file", "listeners[].tls.certificates[].key_file",
        "listeners[].tls.certificates[].sni", "tls.session_ticket_keys", "limits.max_header_bytes",
        "limits.max_body_bytes", "limits.max_connections", "timeouts.header_read", "timeouts.idle",
        "timeouts.upstream_connect", "timeouts.upstream_response", "timeouts.drain", "routes[].order",
        "routes[].match.host", "routes[].match.path_prefix", "routes[].match.path", "routes[].cluster",
        "routes[].direct_response.status", "routes[].direct_response.body", "clusters[].endpoints",
        "clusters[].max_idle_per_endpoint", "clusters[].tls.ca_file", "clusters[].tls.sni", "clusters[].tls.verify",
        "config_engine.verification_window", "config_engine.max_5xx_ratio_increase", "config_engine.p99_factor",
        "config_engine.p99_floor", "config_engine.min_requests", "config_engine.history",
    };
    const auto config = everyKey();
    ASSERT_TRUE(config);
    const auto form = schema::canonicalForm(*config);
    std::set<std::string> seen;
    for (const auto& line : form.lines) {
        const auto key = keyOf(line.path);
        if (new_version.count(key)) {
            EXPECT_EQ(line.applies, Applies::NewVersion) << line.path;
        } else if (in_place.count(key)) {
            EXPECT_EQ(line.applies, Applies::InPlace) << line.path;
        }
        seen.insert(key);
    }
    for (const auto& key : new_version) EXPECT_TRUE(seen.count(key)) << key;
    for (const auto& key : in_place) EXPECT_TRUE(seen.count(key)) << key;
    // A listener added or removed needs new sockets; a route or cluster does not.
    for (const auto& [key, entry] : form.entries)
        EXPECT_EQ(entry.applies, key.first == ConfigSection::Listeners ? Applies::NewVersion : Applies::InPlace)
            << entry.path;
}

// upgrade.require_signature came after configs existed: leaving it out or writing its default
// gives the same hash, and turning it on is a change applied in place (gwctl reads it from Status).
TEST(ConfigSchema, RequireSignatureAppliesInPlaceAndItsDefaultKeepsTheHash) {
    const std::string base = "workers: 1\nlisteners: [{ name: public, address: 127.0.0.1:8080 }]\n"
                             "routes: [{ name: all, match: { path_prefix: / }, direct_response: {} }]\n";
    const auto without = loadConfigText(base, "test.yaml");
    const auto off = loadConfigText(base + "upgrade: { require_signature: false }\n", "test.yaml");
    const auto on = loadConfigText(base + "upgrade:\n  require_signature: true\n", "test.yaml");
    ASSERT_TRUE(without && off && on);
    EXPECT_FALSE((*without)->upgrade.require_signature);
    EXPECT_TRUE((*on)->upgrade.require_signature);
    EXPECT_EQ((*off)->hash, (*without)->hash);
    EXPECT_NE((*on)->hash, (*without)->hash);
    const auto diff = diffConfigs(**without, **on);
    ASSERT_EQ(diff.changes.size(), 1u);
    EXPECT_EQ(diff.changes[0].format(), "upgrade.require_signature: false -> true");
    EXPECT_EQ(diff.changes[0].section, ConfigSection::Upgrade);
    EXPECT_FALSE(diff.changes[0].needs_new_version);
    EXPECT_FALSE(loadConfigText(base + "upgrade: { require_signature: maybe }\n", "test.yaml"));
    EXPECT_FALSE(loadConfigText(base + "upgrade: { require_signatures: true }\n", "test.yaml")) << "unknown key";
}

// gwctl verify's keys (docs/verification.md): defaults that keep older configs' hashes, changes
// applied in place, and bad values named by their path.
TEST(ConfigSchema, VerifyKeysApplyInPlaceAndBadValuesAreNamed) {
    const std::string base = "workers: 1\nlisteners: [{ name: public, address: 127.0.0.1:8080 }]\n"
                             "routes: [{ name: all, match: { path_prefix: / }, direct_response: {} }]\n";
    const auto without = loadConfigText(base, "test.yaml");
    const auto defaults = loadConfigText(base + "upgrade: { verify: { latency_tolerance: 0.1, latency_floor: 5ms } }\n",
                                         "test.yaml");
    const auto set = loadConfigText(base + "upgrade: { verify: { headers: [ETag, content-type] } }\n", "test.yaml");
    ASSERT_TRUE(without && defaults && set);
    EXPECT_EQ((*defaults)->hash, (*without)->hash);
    EXPECT_EQ((*set)->upgrade.verify.headers, (std::vector<std::string>{"content-type", "etag"}));
    const auto diff = diffConfigs(**without, **set);
    ASSERT_FALSE(diff.changes.empty());
    for (const auto& change : diff.changes) EXPECT_FALSE(change.needs_new_version) << change.format();

    const std::pair<const char*, const char*> bad[] = {
        {"upgrade: { verify: { headers: [\"x y\"] } }\n", "upgrade.verify.headers[0]: 'x y' is not an HTTP field name"},
        {"upgrade: { verify: { latency_tolerance: -1 } }\n", "upgrade.verify.latency_tolerance"},
        {"upgrade: { verify: { latency_floor: soon } }\n", "upgrade.verify.latency_floor"},
        {"upgrade: { verify: { header: [etag] } }\n", "upgrade.verify.header"},
    };
    for (const auto& [yaml, named] : bad) {
        const auto loaded = loadConfigText(base + yaml, "test.yaml");
        ASSERT_FALSE(loaded) << yaml;
        EXPECT_NE(formatProblems(loaded.error()).find(named), std::string::npos) << formatProblems(loaded.error());
    }
    const auto shadow = loadConfigText(
        "workers: 1\nlisteners: [{ name: public, address: 127.0.0.1:8080 }]\n"
        "routes: [{ name: all, match: { path_prefix: / }, direct_response: {}, shadow: maybe }]\n",
        "test.yaml");
    ASSERT_FALSE(shadow);
    EXPECT_NE(formatProblems(shadow.error()).find("routes[all].shadow"), std::string::npos)
        << formatProblems(shadow.error());
}

// HTTP/2 listener keys (docs/http2.md): defaults that keep older configs' hashes, protocols
// needing a new version and the http2 settings applying in place, bad values named.
TEST(ConfigSchema, Http2KeysKeepOldHashesAndBadValuesAreNamed) {
    const auto with = [](const std::string& listener_keys) {
        return "workers: 1\nlisteners: [{ name: public, address: 127.0.0.1:8080" + listener_keys +
               " }]\nroutes: [{ name: all, match: { path_prefix: / }, direct_response: {} }]\n";
    };
    const auto without = loadConfigText(with(""), "test.yaml");
    const auto defaults = loadConfigText(
        with(", protocols: [http1], http2: { max_concurrent_streams: 256, initial_stream_window: 1MB, "
             "max_header_list: 64k }"),
        "test.yaml");
    const auto h2 = loadConfigText(with(", protocols: [h2, http1]"), "test.yaml");
    const auto tuned = loadConfigText(with(", http2: { max_concurrent_streams: 10 }"), "test.yaml");
    ASSERT_TRUE(without && defaults && h2 && tuned);
    EXPECT_EQ((*defaults)->hash, (*without)->hash);
    EXPECT_EQ((*h2)->listeners[0].protocols, (std::vector<HttpProtocol>{HttpProtocol::H2, HttpProtocol::Http1}));
    EXPECT_TRUE((*h2)->listeners[0].speaks(HttpProtocol::H2));
    EXPECT_FALSE((*without)->listeners[0].speaks(HttpProtocol::H2));
    const auto to_h2 = diffConfigs(**without, **h2);
    ASSERT_EQ(to_h2.changes.size(), 1u);
    EXPECT_TRUE(to_h2.changes[0].needs_new_version) << to_h2.changes[0].format();
    const auto to_tuned = diffConfigs(**without, **tuned);
    ASSERT_EQ(to_tuned.changes.size(), 1u);
    EXPECT_FALSE(to_tuned.changes[0].needs_new_version) << to_tuned.changes[0].format();

    const std::pair<const char*, const char*> bad[] = {
        {", protocols: [h3]", "listeners[public].protocols[0]: must be 'h2' or 'http1', got 'h3'"},
        {", protocols: [h2, h2]", "listeners[public].protocols"},
        {", protocols: []", "listeners[public].protocols"},
        {", http2: { initial_stream_window: 4GB }", "listeners[public].http2.initial_stream_window: must be at most"},
        {", http2: { max_concurrent_streams: 0 }", "listeners[public].http2.max_concurrent_streams"},
        {", http2: { max_header_list: 10 }", "listeners[public].http2.max_header_list: must be at least 1024"},
        {", http2: { max_streams: 10 }", "listeners[public].http2.max_streams"},
    };
    for (const auto& [keys, named] : bad) {
        const auto loaded = loadConfigText(with(keys), "test.yaml");
        ASSERT_FALSE(loaded) << keys;
        EXPECT_NE(formatProblems(loaded.error()).find(named), std::string::npos) << formatProblems(loaded.error());
    }
}

TEST(ConfigSchema, ChangesKnowTheirSectionAndEntry) {
    const auto before = everyKey();
    std::string text = test::kEveryKeyConfig;
    text.replace(text.find("address: 127.0.0.1:8443"), 23, "address: 127.0.0.1:8444");
    text.replace(text.find("max_idle_per_endpoint: 0"), 24, "max_idle_per_endpoint: 1");
    text.replace(text.find("  - name: bare\n"), 15, "  - name: spare\n");
    const auto after = loadConfigText(text, "/etc/hotgate/every.yaml");
    ASSERT_TRUE(before && after) << formatProblems(after.error());
    const auto diff = diffConfigs(*before, **after);
    ASSERT_EQ(diff.changes.size(), 4u);
    EXPECT_EQ(diff.changes[0].format(), "clusters[bare] removed");
    EXPECT_EQ(diff.changes[1].format(), "clusters[pool].max_idle_per_endpoint: 0 -> 1");
    EXPECT_EQ(diff.changes[2].format(), "clusters[spare] added");
    EXPECT_EQ(diff.changes[3].format(), "listeners[web].address: 127.0.0.1:8443 -> 127.0.0.1:8444");
    EXPECT_EQ(diff.changes[1].section, ConfigSection::Clusters);
    EXPECT_EQ(diff.changes[1].entry, "pool");
    EXPECT_FALSE(diff.changes[2].needs_new_version);
    EXPECT_EQ(diff.changes[3].section, ConfigSection::Listeners);
    EXPECT_EQ(diff.changes[3].entry, "web");
    EXPECT_TRUE(diff.changes[3].needs_new_version);
    EXPECT_EQ(diff.affected_routes, std::vector<std::string>{"any"});  // the route to pool
}

TEST(ConfigSchema, AMissingTopLevelKeyHasNoLineAndANestedOneHasItsParents) {
    auto result = loadConfigText("routes: [{name: r, match: {path_prefix: /}, direct_response: {}}]\n"
                                 "clusters:\n  - endpoints: [127.0.0.1:1]\n",
                                 "test.yaml");
    ASSERT_FALSE(result);
    const auto problems = formatProblems(result.error());
    EXPECT_NE(problems.find("test.yaml: listeners: at least one listener is required\n"), std::string::npos)
        << problems;
    EXPECT_NE(problems.find("test.yaml:3: clusters[0]: missing required key 'name'\n"), std::string::npos)
        << problems;
}

// A section of its own, as a feature would add one: each key is its row, and nothing else.
struct Retries {
    std::chrono::milliseconds budget{};
    unsigned attempts = 0;
    std::vector<std::string> on_hosts;
};

schema::Table<Retries> retriesTable() {
    using enum Applies;
    return {{
        {"budget", &Retries::budget, schema::Duration{}, "250ms", InPlace, "time all attempts may take"},
        {"attempts", &Retries::attempts, schema::Integer{1, 5}, "2", InPlace, "tries per request"},
        {"on_hosts", &Retries::on_hosts, schema::SetOf<schema::HostName>{.duplicates = schema::Duplicates::Merged},
         schema::kEmpty, NewVersion, "hosts whose requests are retried"},
    }};
}

TEST(ConfigSchema, AKeyIsOneRowForTheLoaderTheCanonicalFormAndTheReference) {
    const YAML::Node root = YAML::Load("retries:\n  attempts: 3\n  on_hosts: [B.example, a.example, b.example]\n"
                                       "  budget_ms: 5\n");
    schema::Reader reader("r.yaml", root);
    Retries retries;
    schema::readMapping(retriesTable(), reader, root["retries"], "retries", retries);
    ASSERT_EQ(reader.problems.size(), 1u);
    EXPECT_EQ(reader.problems[0].format(),
              "r.yaml:4: retries.budget_ms: unknown key (expected one of: budget, attempts, on_hosts)");
    EXPECT_EQ(retries.budget.count(), 250);  // the row's default
    EXPECT_EQ(retries.attempts, 3u);
    EXPECT_EQ(retries.on_hosts, (std::vector<std::string>{"a.example", "b.example"}));

    schema::CanonicalWriter writer;
    schema::writeRows(retriesTable(), writer, "retries", retries);
    EXPECT_EQ(writer.form.text(),
              "retries.budget = 250ms\nretries.attempts = 3\nretries.on_hosts += a.example\n"
              "retries.on_hosts += b.example\n");
    EXPECT_EQ(writer.form.lines.back().applies, Applies::NewVersion);

    schema::Reference docs;
    schema::describeRows(retriesTable(), docs, "retries");
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(docs[1].path, "retries.attempts");
    EXPECT_EQ(docs[1].type.type, "integer");
    EXPECT_EQ(docs[1].type.bounds, "1 to 5");
    EXPECT_EQ(docs[1].default_value, "2");
    EXPECT_EQ(docs[1].doc, "tries per request");

    schema::Reader bad("r.yaml", YAML::Load("attempts: 9\n"));
    Retries refused;
    schema::readMapping(retriesTable(), bad, YAML::Load("attempts: 9\n"), "retries", refused);
    ASSERT_EQ(bad.problems.size(), 1u);
    EXPECT_EQ(bad.problems[0].format(), "r.yaml:1: retries.attempts: must be between 1 and 5, got 9");
}

TEST(ConfigReference, SaysOfEachKeyItsTypeDefaultBoundsHowItAppliesAndWhatItIs) {
    const auto text = reference();
    EXPECT_NE(text.find("| `timeouts.idle` | duration | `60s` | above zero; with a unit: ms, s, m or h | in place | "),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("| `workers` | integer or `auto` | `auto` | 1 to 256; `auto`: one per CPU | new version |"),
              std::string::npos);
    EXPECT_NE(text.find("| `listeners[].address` | IP:port | required |"), std::string::npos);
    EXPECT_NE(text.find("| `dataplane.steering` | one of | `auto` | `auto` or `off` | new version |"),
              std::string::npos);
    EXPECT_NE(text.find("| `routes` | list of named mappings | required |"), std::string::npos);
    for (const auto& section : schema::sections()) {
        schema::Reference docs;
        section.row.describe(docs, "");
        for (const auto& doc : docs) {
            // A section's own mapping is its heading and opening sentence; everything else a row.
            const bool heading = doc.path == section.row.key && doc.type.type == "mapping";
            EXPECT_NE(text.find(heading ? "## `" + doc.path + "`" : "| `" + doc.path + "` |"), std::string::npos)
                << doc.path;
        }
    }
}

}  // namespace
}  // namespace hotgate

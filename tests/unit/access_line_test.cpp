// The access log's line formats: every JSON line parses as JSON with the sink's keys in order
// (whatever bytes the request carried), values a request lacks are null, and the combined
// line is NGINX's layout with the version after it.
#include <gtest/gtest.h>

#include <random>
#include <regex>

#include <nlohmann/json.hpp>

#include "access_log/access_line.h"
#include "config/access_fields.h"

namespace hotgate {
namespace {

using namespace std::chrono_literals;

std::vector<AccessField> everyField() {
    std::vector<AccessField> fields;
    for (const auto& [name, field] : kAccessFieldNames) fields.push_back(field);
    return fields;
}

AccessRecord proxiedRecord() {
    AccessRecord r;
    r.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796549401123));  // 2026-12-06
    r.client_ip = "192.0.2.7";
    r.method = "POST";
    r.path = "/pay?order=42";
    r.http_version = 11;
    r.host = "pay.example";
    r.status = 201;
    r.bytes_sent = 512;
    r.duration = 12345678ns;
    r.route = "payments";
    r.cluster = "ledger";
    r.upstream = "10.0.0.5:8080";
    r.upstream_time = 2500us;
    r.attempts = 2;
    r.version = "1.4.0-abc/0123456789ab";
    r.request_id = "req-1";
    r.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    r.tls_version = "TLSv1.3";
    r.sni = "pay.example";
    r.user_agent = "curl/7.88.1";
    r.referer = "https://shop.example/cart";
    return r;
}

TEST(AccessLine, JsonLineHasEveryFieldInOrder) {
    std::string line;
    appendJsonLine(line, proxiedRecord(), everyField());
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
    const auto json = nlohmann::ordered_json::parse(line);
    std::vector<std::string> keys;
    for (const auto& item : json.items()) keys.push_back(item.key());
    ASSERT_EQ(keys.size(), kAccessFieldNames.size());
    for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(keys[i], kAccessFieldNames[i].first);
    EXPECT_EQ(json["time"], "2026-12-06T09:30:01.123Z");
    EXPECT_EQ(json["client_ip"], "192.0.2.7");
    EXPECT_EQ(json["method"], "POST");
    EXPECT_EQ(json["path"], "/pay?order=42");
    EXPECT_EQ(json["protocol"], "HTTP/1.1");
    EXPECT_EQ(json["status"], 201);
    EXPECT_EQ(json["bytes_sent"], 512);
    EXPECT_DOUBLE_EQ(json["duration_ms"].get<double>(), 12.345);
    EXPECT_EQ(json["route"], "payments");
    EXPECT_EQ(json["cluster"], "ledger");
    EXPECT_EQ(json["upstream"], "10.0.0.5:8080");
    EXPECT_DOUBLE_EQ(json["upstream_ms"].get<double>(), 2.5);
    EXPECT_EQ(json["attempts"], 2);
    EXPECT_EQ(json["version"], "1.4.0-abc/0123456789ab");
    EXPECT_EQ(json["request_id"], "req-1");
    EXPECT_EQ(json["tls_version"], "TLSv1.3");
    EXPECT_EQ(json["sni"], "pay.example");
    EXPECT_EQ(json["referer"], "https://shop.example/cart");
}

TEST(AccessLine, WhatARequestLacksIsNull) {
    AccessRecord r;  // refused before its head parsed: no method, route, upstream or TLS
    r.client_ip = "192.0.2.7";
    r.status = 400;
    r.version = "v";
    std::string line;
    appendJsonLine(line, r, everyField());
    const auto json = nlohmann::json::parse(line);
    for (const char* key : {"method", "path", "protocol", "host", "route", "cluster", "upstream", "upstream_ms",
                            "request_id", "traceparent", "tls_version", "sni", "user_agent", "referer"})
        EXPECT_TRUE(json[key].is_null()) << key;
    EXPECT_EQ(json["status"], 400);
    EXPECT_EQ(json["attempts"], 0);
}

TEST(AccessLine, OnlyTheSinksFieldsInItsOrder) {
    std::string line;
    const std::vector<AccessField> fields = {AccessField::Version, AccessField::Status};
    appendJsonLine(line, proxiedRecord(), fields);
    EXPECT_EQ(line, "{\"version\":\"1.4.0-abc/0123456789ab\",\"status\":201}\n");
}

TEST(AccessLine, AnyBytesMakeValidJson) {
    // Quotes, backslashes, control bytes, valid UTF-8 (kept) and invalid bytes (escaped).
    AccessRecord r = proxiedRecord();
    const std::string agent = "a\"b\\c\n\x01\t\xc3\xa9 \xff\xc3 \xed\xa0\x80 \xf0\x9f\x92\xb3";
    r.user_agent = agent;
    std::string line;
    const std::vector<AccessField> fields = {AccessField::UserAgent};
    appendJsonLine(line, r, fields);
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << "a newline in a value never splits the line";
    const auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json["user_agent"], "a\"b\\c\n\x01\t\xc3\xa9 \xc3\xbf\xc3\x83 \xc3\xad\xc2\xa0\xc2\x80 \xf0\x9f\x92\xb3");

    // Random bytes in every text field: each line still parses.
    std::mt19937 random(7);
    for (int i = 0; i < 2000; ++i) {
        std::string bytes(static_cast<std::size_t>(random() % 40), '\0');
        for (auto& byte : bytes) byte = static_cast<char>(random() % 256);
        AccessRecord any = proxiedRecord();
        any.path = any.method = any.host = any.user_agent = any.referer = any.sni = bytes;
        std::string text;
        appendJsonLine(text, any, everyField());
        EXPECT_FALSE(nlohmann::json::parse(text, nullptr, false).is_discarded()) << text;
        EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
    }
}

TEST(AccessLine, CombinedIsNginxsLayoutThenTheVersion) {
    std::string line;
    appendCombinedLine(line, proxiedRecord());
    EXPECT_EQ(line,
              "192.0.2.7 - - [06/Dec/2026:09:30:01 +0000] \"POST /pay?order=42 HTTP/1.1\" 201 512 "
              "\"https://shop.example/cart\" \"curl/7.88.1\" \"1.4.0-abc/0123456789ab\"\n");
    // The regular expression log tools use for the combined format still matches.
    const std::regex combined(
        R"re(^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d{3}) (\d+) "([^"]*)" "([^"]*)")re");
    EXPECT_TRUE(std::regex_search(line, combined)) << line;
}

TEST(AccessLine, CombinedEscapesLikeNginxAndDashesWhatIsMissing) {
    AccessRecord r;
    r.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796549401123));
    r.client_ip = "192.0.2.7";
    r.status = 400;
    r.version = "v";
    std::string refused;
    appendCombinedLine(refused, r);
    EXPECT_EQ(refused, "192.0.2.7 - - [06/Dec/2026:09:30:01 +0000] \"-\" 400 0 \"-\" \"-\" \"v\"\n");
    r.method = "GET";
    r.path = "/";
    r.http_version = 20;
    r.user_agent = "x\"y\\z\x7f\xc3\xa9";
    std::string line;
    appendCombinedLine(line, r);
    EXPECT_NE(line.find("\"GET / HTTP/2.0\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"x\\x22y\\x5cz\\x7f\\xc3\\xa9\""), std::string::npos) << line;
}

}  // namespace
}  // namespace hotgate

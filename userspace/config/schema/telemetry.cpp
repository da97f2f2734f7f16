// telemetry: where the OpenTelemetry spans of upgrades and config applies are exported
// (docs/telemetry.md). The exporter is built at start, so every key needs a new version.
#include "config/schema/tables.h"
#include "telemetry/http_endpoint.h"

namespace hotgate::schema {
namespace {

void checkOtlp(Reader& reader, const YAML::Node& map, const std::string& path, const OtlpConfig& otlp) {
    if (otlp.encoding == OtlpWireEncoding::Protobuf)
        reader.problem(map, Reader::join(path, "encoding"),
                       "protobuf is not supported by this build; use json (OTLP/HTTP JSON encoding)");
    if (otlp.endpoint.empty()) return;
    if (auto endpoint = telemetry::parseHttpEndpoint(otlp.endpoint); !endpoint)
        reader.problem(map, Reader::join(path, "endpoint"), endpoint.error().message);
    if (otlp.timeout.count() <= 0)
        reader.problem(map, Reader::join(path, "timeout"), "must be more than 0");
}

Table<OtlpConfig> otlpTable() {
    using enum Applies;
    Table<OtlpConfig> table{{
        // key, member, type and bounds, default, applies, doc
        {"endpoint", &OtlpConfig::endpoint, Text{}, kUnset, NewVersion,
         "OTLP/HTTP traces URL of a collector, e.g. http://127.0.0.1:4318/v1/traces (http only); empty: no export"},
        {"encoding", &OtlpConfig::encoding,
         Choice<OtlpWireEncoding>{{{"json", OtlpWireEncoding::Json}, {"protobuf", OtlpWireEncoding::Protobuf}}},
         Default::addedLater("json"), NewVersion, "the OTLP encoding; only json is supported"},
        {"timeout", &OtlpConfig::timeout, Duration{}, Default::addedLater("2s"), NewVersion,
         "one export request's bound (failed requests are retried with backoff, then dropped and counted)"},
    }};
    table.checks.push_back(checkOtlp);
    return table;
}

}  // namespace

Table<TelemetryConfig> telemetryTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"service_name", &TelemetryConfig::service_name, Text{}, Default::addedLater("hotgate"), NewVersion,
         "the service.name of every span"},
        block("otlp", &TelemetryConfig::otlp, otlpTable(), kEmpty, "the collector spans are exported to"),
    }};
}

}  // namespace hotgate::schema

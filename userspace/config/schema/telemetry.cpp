// telemetry: where the OpenTelemetry spans of upgrades, config applies and sampled requests are
// exported (docs/telemetry.md). The exporter is built at start, so its keys need a new version;
// the request sampling ratio applies in place.
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

void checkSampling(Reader& reader, const YAML::Node& map, const std::string& path, const TelemetryConfig& telemetry) {
    if (telemetry.sample_ratio > 0 && telemetry.otlp.endpoint.empty())
        reader.problem(map, Reader::join(path, "sample_ratio"),
                       "request spans need a collector: set telemetry.otlp.endpoint, or sample_ratio: 0");
}

}  // namespace

Table<TelemetryConfig> telemetryTable() {
    using enum Applies;
    Table<TelemetryConfig> table{{
        // key, member, type and bounds, default, applies, doc
        {"service_name", &TelemetryConfig::service_name, Text{}, Default::addedLater("hotgate"), NewVersion,
         "the service.name of every span"},
        block("otlp", &TelemetryConfig::otlp, otlpTable(), kEmpty, "the collector spans are exported to"),
        {"sample_ratio", &TelemetryConfig::sample_ratio, Number{0, 1}, Default::addedLater("0"), InPlace,
         "share of proxied requests starting a trace that get a Server span (a sampled traceparent always does "
         "when above 0); 0: none. With otlp.endpoint set every proxied request carries a traceparent either way"},
    }};
    table.checks.push_back(checkSampling);
    return table;
}

}  // namespace hotgate::schema

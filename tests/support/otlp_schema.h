// The OTLP/HTTP JSON schema of an ExportTraceServiceRequest, checked strictly, as a test
// collector should: every field hotgate must send present with the right JSON type, ids as
// lowercase hex of the right length (not base64), times as decimal strings with end >= start,
// kind and status code in range, every attribute value exactly one typed field, and no field
// the OTLP protos do not define (a misspelt "parentSpanID" fails instead of vanishing).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace hotgate::test {

// One span as a collector received it.
struct ReceivedSpan {
    std::string service_name;     // the resource's service.name
    std::string service_version;  // the resource's service.version, "" when absent
    std::string scope_name;
    std::string scope_version;
    std::string trace_id;        // 32 lowercase hex
    std::string span_id;         // 16 lowercase hex
    std::string parent_span_id;  // 16 lowercase hex, "" for a root span
    std::string name;
    int kind = 0;  // 1 internal, 2 server, 3 client (4, 5 are valid OTLP too)
    std::uint64_t start_unix_nanos = 0;
    std::uint64_t end_unix_nanos = 0;
    std::map<std::string, nlohmann::json> attributes;  // key -> the typed value, {"intValue":"7"}
    int status_code = 0;                               // 0 unset, 1 ok, 2 error
    std::string status_message;

    // The attribute's value as text ("GET", "7", "true", "0.5"), "" when absent.
    std::string attribute(std::string_view key) const;
    // The attribute's value field name ("stringValue", "intValue", ...), "" when absent.
    std::string attributeType(std::string_view key) const;
};

// Validates `body` and returns its spans in document order; fails with the JSON path of the
// first violation ("resourceSpans[0].scopeSpans[0].spans[2].traceId: ...").
Result<std::vector<ReceivedSpan>> parseOtlpTraceRequest(std::string_view body);

}  // namespace hotgate::test

// One access log line of a request, in the sink's format (docs/operations.md "Access log").
//
// json: one object a line, keys in the sink's field order. Strings are JSON-escaped; a byte
// that is not part of valid UTF-8 is written as \u00XX, so every line is valid JSON. A value
// the request does not have (no route, no upstream, no TLS) is null.
// combined: NGINX's `$remote_addr - - [$time_local] "$request" $status $bytes_sent
// "$http_referer" "$http_user_agent"`, then the serving version in quotes; `"`, `\` and bytes
// outside printable ASCII are written as \xXX, as NGINX does.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "access_log/access_record.h"
#include "config/config.h"

namespace hotgate {

// The fields a combined line holds.
inline const std::vector<AccessField> kCombinedFields = {
    AccessField::ClientIp, AccessField::Time,      AccessField::Method,    AccessField::Path,
    AccessField::Protocol, AccessField::Status,    AccessField::BytesSent, AccessField::Referer,
    AccessField::UserAgent, AccessField::Version};

// Appends the line of `record` (with its newline) to `out`.
void appendJsonLine(std::string& out, const AccessRecord& record, std::span<const AccessField> fields);
void appendCombinedLine(std::string& out, const AccessRecord& record);

}  // namespace hotgate

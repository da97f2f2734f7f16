// The names of the access log's fields (AccessField): the words `access_log[].fields` takes and
// the keys of a JSON line. One table, so the schema and the log never disagree.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "config/config.h"

namespace hotgate {

inline constexpr std::array<std::pair<std::string_view, AccessField>, 21> kAccessFieldNames = {{
    {"time", AccessField::Time},
    {"client_ip", AccessField::ClientIp},
    {"method", AccessField::Method},
    {"path", AccessField::Path},
    {"protocol", AccessField::Protocol},
    {"host", AccessField::Host},
    {"status", AccessField::Status},
    {"bytes_sent", AccessField::BytesSent},
    {"duration_ms", AccessField::DurationMs},
    {"route", AccessField::Route},
    {"cluster", AccessField::Cluster},
    {"upstream", AccessField::Upstream},
    {"upstream_ms", AccessField::UpstreamMs},
    {"attempts", AccessField::Attempts},
    {"version", AccessField::Version},
    {"request_id", AccessField::RequestId},
    {"traceparent", AccessField::Traceparent},
    {"tls_version", AccessField::TlsVersion},
    {"sni", AccessField::Sni},
    {"user_agent", AccessField::UserAgent},
    {"referer", AccessField::Referer},
}};

static_assert(
    [] {
        for (std::size_t i = 0; i < kAccessFieldNames.size(); ++i)
            if (static_cast<std::size_t>(kAccessFieldNames[i].second) != i) return false;
        return true;
    }(),
    "kAccessFieldNames lists every AccessField in the enum's order");

// A set of fields, a bit each.
constexpr std::uint32_t accessFieldBit(AccessField field) { return 1u << static_cast<unsigned>(field); }

constexpr std::string_view accessFieldName(AccessField field) {
    for (const auto& [name, value] : kAccessFieldNames)
        if (value == field) return name;
    return "unknown";
}

}  // namespace hotgate

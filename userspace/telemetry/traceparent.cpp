#include "telemetry/traceparent.h"

namespace hotgate::telemetry {
namespace {

// Field offsets of "vv-tttttttttttttttttttttttttttttttt-pppppppppppppppp-ff".
constexpr std::size_t kVersionLength = 2;
constexpr std::size_t kTraceIdAt = 3;
constexpr std::size_t kParentIdAt = kTraceIdAt + 32 + 1;
constexpr std::size_t kFlagsAt = kParentIdAt + 16 + 1;
constexpr std::size_t kVersion00Length = kFlagsAt + 2;  // 55

bool isLowerHex(std::string_view text) {
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

Result<TraceContext> parseTraceparent(std::string_view value) {
    if (value.size() < kVersion00Length)
        return fail("traceparent '", value, "': ", value.size(), " characters, at least ", kVersion00Length,
                    " expected");
    const std::string_view version = value.substr(0, kVersionLength);
    if (!isLowerHex(version)) return fail("traceparent '", value, "': version '", version, "' is not lowercase hex");
    if (version == "ff") return fail("traceparent '", value, "': version ff is invalid");
    if (version == "00" && value.size() != kVersion00Length)
        return fail("traceparent '", value, "': version 00 is exactly ", kVersion00Length, " characters, got ",
                    value.size());
    // A later version may carry more fields, but only after a dash.
    if (value.size() > kVersion00Length && value[kVersion00Length] != '-')
        return fail("traceparent '", value, "': no '-' after the flags of version ", version);
    for (std::size_t dash : {kVersionLength, kParentIdAt - 1, kFlagsAt - 1})
        if (value[dash] != '-') return fail("traceparent '", value, "': '-' expected at offset ", dash);

    const std::string_view trace_hex = value.substr(kTraceIdAt, 32);
    const std::string_view parent_hex = value.substr(kParentIdAt, 16);
    const std::string_view flags_hex = value.substr(kFlagsAt, 2);
    const auto trace_id = traceIdFromHex(trace_hex);
    if (!trace_id) return fail("traceparent '", value, "': trace id '", trace_hex, "' is not 32 lowercase hex digits");
    if (!isValid(*trace_id)) return fail("traceparent '", value, "': trace id is all zeros");
    const auto parent_id = spanIdFromHex(parent_hex);
    if (!parent_id)
        return fail("traceparent '", value, "': parent id '", parent_hex, "' is not 16 lowercase hex digits");
    if (!isValid(*parent_id)) return fail("traceparent '", value, "': parent id is all zeros");
    if (!isLowerHex(flags_hex)) return fail("traceparent '", value, "': flags '", flags_hex, "' are not lowercase hex");

    const int low_digit = flags_hex[1] <= '9' ? flags_hex[1] - '0' : flags_hex[1] - 'a' + 10;
    return TraceContext{*trace_id, *parent_id, (low_digit & 0x1) != 0};
}

std::string formatTraceparent(const TraceContext& context) {
    std::string out = "00-";
    out += toHex(context.trace_id);
    out += '-';
    out += toHex(context.parent_id);
    out += context.sampled ? "-01" : "-00";
    return out;
}

}  // namespace hotgate::telemetry

#include "proxy/h2/grpc_status.h"

#include <boost/beast/core/string.hpp>

namespace hotgate::grpc {

bool isGrpcRequest(const http::request_header<>& request) {
    const auto type = request[http::field::content_type];
    constexpr std::string_view kGrpc = "application/grpc";
    if (type.size() < kGrpc.size() || !beast::iequals(type.substr(0, kGrpc.size()), kGrpc)) return false;
    return type.size() == kGrpc.size() || type[kGrpc.size()] == '+' || type[kGrpc.size()] == ';';
}

std::optional<std::chrono::milliseconds> parseTimeout(std::string_view value) {
    if (value.size() < 2 || value.size() > 9) return std::nullopt;
    std::uint64_t amount = 0;
    for (const char c : value.substr(0, value.size() - 1)) {
        if (c < '0' || c > '9') return std::nullopt;
        amount = amount * 10 + static_cast<std::uint64_t>(c - '0');
    }
    using namespace std::chrono;
    switch (value.back()) {
        case 'H': return duration_cast<milliseconds>(hours(amount));
        case 'M': return duration_cast<milliseconds>(minutes(amount));
        case 'S': return duration_cast<milliseconds>(seconds(amount));
        case 'm': return milliseconds(amount);
        case 'u': return ceil<milliseconds>(microseconds(amount));
        case 'n': return ceil<milliseconds>(nanoseconds(amount));
        default: return std::nullopt;
    }
}

namespace {

std::uint32_t statusIn(const std::vector<h2::Field>& fields) {
    for (const auto& field : fields) {
        if (field.name != "grpc-status") continue;
        if (field.value.empty() || field.value.size() > 2) return kNoStatus;
        std::uint32_t code = 0;
        for (const char c : field.value) {
            if (c < '0' || c > '9') return kNoStatus;
            code = code * 10 + static_cast<std::uint32_t>(c - '0');
        }
        return code < kCodeCount ? code : kNoStatus;
    }
    return kNoStatus;
}

}  // namespace

std::uint32_t statusOf(const std::vector<h2::Field>& head, const std::vector<h2::Field>& trailers) {
    const std::uint32_t in_trailers = statusIn(trailers);
    return in_trailers != kNoStatus ? in_trailers : statusIn(head);
}

Code codeForRefusal(unsigned http_status, bool limit) {
    if (limit || http_status == 429) return Code::ResourceExhausted;
    switch (http_status) {
        case 504: return Code::DeadlineExceeded;
        case 404: return Code::Unimplemented;
        case 400:
        case 408:
        case 413:
        case 431: return Code::Internal;
        default: return Code::Unavailable;
    }
}

std::vector<h2::Field> statusFields(Code code, std::string_view message) {
    // Percent-encoded: everything outside printable ASCII, and '%' itself.
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string encoded;
    for (const char c : message) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte <= 0x7e && byte != '%') {
            encoded.push_back(c);
        } else {
            encoded.push_back('%');
            encoded.push_back(kHex[byte >> 4]);
            encoded.push_back(kHex[byte & 15]);
        }
    }
    return {{"grpc-status", std::to_string(static_cast<std::uint32_t>(code))}, {"grpc-message", std::move(encoded)}};
}

}  // namespace hotgate::grpc

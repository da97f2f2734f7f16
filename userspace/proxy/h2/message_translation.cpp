#include "proxy/h2/message_translation.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "proxy/http1_head.h"

namespace hotgate::h2 {
namespace {

// An HTTP/2 field name: a token (RFC 9110 5.6.2) in lower case (RFC 9113 8.2.1).
bool validName(std::string_view name) {
    return http1::isToken(name) && std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// A field value, request target or authority: nothing that ends a line or the message.
bool validValue(std::string_view value) {
    return std::none_of(value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// The request target and authority also take no space: one would split the request line.
bool validToken(std::string_view text) {
    return !text.empty() && std::none_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
    });
}

}  // namespace

bool connectionSpecific(std::string_view name) {
    static constexpr std::array<std::string_view, 6> kNames{"connection",        "keep-alive", "proxy-connection",
                                                           "transfer-encoding", "upgrade",    "te"};
    return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

tl::expected<Http1Request, Refusal> toHttp1(const RequestFields& request, bool ends_stream) {
    auto refuse = [](std::string reason) { return tl::unexpected(Refusal{400, std::move(reason)}); };
    if (request.method == "CONNECT") return tl::unexpected(Refusal{501, "CONNECT is not supported over HTTP/2"});
    if (!http1::isToken(request.method))
        return refuse("malformed :method");
    if (!validToken(request.path)) return refuse("malformed :path");
    std::string authority = request.authority;
    std::size_t hosts = 0;
    for (const Field& field : request.fields)
        if (field.name == "host") {
            ++hosts;
            if (authority.empty()) authority = field.value;
        }
    if (request.authority.empty() && hosts > 1) return refuse("more than one host field");
    if (!authority.empty() && !validToken(authority)) return refuse("malformed :authority");

    Http1Request out;
    std::string& head = out.head;
    head.reserve(256);
    head.append(request.method).append(" ").append(request.path).append(" HTTP/1.1\r\n");
    if (!authority.empty()) head.append("host: ").append(authority).append("\r\n");
    std::string cookies;
    bool has_length = false;
    for (const Field& field : request.fields) {
        if (!validName(field.name)) return refuse("malformed field name");
        if (!validValue(field.value)) return refuse("malformed value of field " + field.name);
        if (field.name == "host") continue;
        if (field.name == "te") continue;  // "trailers" at most (nghttp2 refuses other values): hop-by-hop
        if (connectionSpecific(field.name)) return refuse("connection-specific field " + field.name);
        if (field.name == "cookie") {
            if (!cookies.empty()) cookies.append("; ");
            cookies.append(field.value);
            continue;
        }
        if (field.name == "content-length") {
            if (has_length) return refuse("more than one content-length field");
            if (!http1::parseContentLength(field.value)) return refuse("malformed content-length");
            has_length = true;
        }
        head.append(field.name).append(": ").append(field.value).append("\r\n");
    }
    if (!cookies.empty()) head.append("cookie: ").append(cookies).append("\r\n");
    if (ends_stream) {
        out.body = RequestBody::None;
    } else if (has_length) {
        out.body = RequestBody::Length;
    } else {
        out.body = RequestBody::Chunked;
        head.append("transfer-encoding: chunked\r\n");
    }
    head.append("\r\n");
    return out;
}

std::vector<Field> toHttp2(const http::response_header<>& head) {
    std::vector<Field> out;
    out.push_back({":status", std::to_string(head.result_int())});
    // Fields the Connection field names are connection-specific too.
    std::vector<std::string> named;
    for (const auto& field : head)
        if (field.name() == http::field::connection) {
            std::string_view list = field.value();
            while (!list.empty()) {
                const auto comma = list.find(',');
                std::string_view item = list.substr(0, comma);
                while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
                while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
                if (!item.empty()) named.push_back(lower(item));
                list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
            }
        }
    for (const auto& field : head) {
        std::string name = lower(field.name_string());
        if (connectionSpecific(name)) continue;
        if (std::find(named.begin(), named.end(), name) != named.end()) continue;
        out.push_back({std::move(name), std::string(field.value())});
    }
    return out;
}

std::string chunkHeader(std::size_t size) {
    char text[24];
    const int n = std::snprintf(text, sizeof text, "%zx\r\n", size);
    return std::string(text, static_cast<std::size_t>(n));
}

}  // namespace hotgate::h2

#include "proxy/http_limits.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace hotgate {
namespace {

std::string lowerTrimmed(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::vector<std::string> splitCommaList(std::string_view text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        const auto comma = text.find(',', start);
        const auto item = lowerTrimmed(text.substr(start, comma == std::string_view::npos ? text.npos : comma - start));
        if (!item.empty()) items.push_back(item);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return items;
}

}  // namespace

std::size_t findHeaderEnd(std::string_view data) {
    for (std::size_t i = 0; i < data.size(); ++i) {
        if (data[i] != '\n') continue;
        // "\n\r\n" (CRLF CRLF) or "\n\n" (bare LF blank line)
        if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
        if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') return i + 3;
    }
    return std::string_view::npos;
}

std::optional<std::string> framingProblemInHeaderBytes(std::string_view block) {
    for (std::size_t i = 0; i < block.size(); ++i) {
        const char c = block[i];
        if (c == '\0') return "NUL byte in request header";
        if (c == '\n') {
            if (i == 0 || block[i - 1] != '\r') return "bare LF in request header (CRLF required)";
            if (i + 1 < block.size() && (block[i + 1] == ' ' || block[i + 1] == '\t'))
                return "obsolete line folding in request header";
        }
        if (c == '\r' && (i + 1 >= block.size() || block[i + 1] != '\n')) return "bare CR in request header";
    }
    return std::nullopt;
}

std::optional<std::string> framingProblemInHeader(const http::request_header<>& header) {
    std::vector<std::string_view> lengths;
    std::vector<std::string_view> encodings;
    int hosts = 0;
    for (const auto& field : header) {
        switch (field.name()) {
            case http::field::content_length: lengths.push_back(field.value()); break;
            case http::field::transfer_encoding: encodings.push_back(field.value()); break;
            case http::field::host: ++hosts; break;
            default: break;
        }
    }
    if (!lengths.empty() && !encodings.empty()) return "both Content-Length and Transfer-Encoding";
    if (lengths.size() > 1) {
        const bool all_same = std::all_of(lengths.begin(), lengths.end(), [&](auto v) { return v == lengths.front(); });
        return all_same ? "repeated Content-Length" : "conflicting Content-Length values";
    }
    for (auto length : lengths) {
        if (length.empty() || !std::all_of(length.begin(), length.end(), [](unsigned char c) { return std::isdigit(c); }))
            return "bad Content-Length";
    }
    if (!encodings.empty()) {
        if (header.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
        std::vector<std::string> codings;
        for (auto value : encodings)
            for (auto& coding : splitCommaList(value)) codings.push_back(coding);
        if (codings.empty() || codings.back() != "chunked") return "Transfer-Encoding does not end in chunked";
        if (std::count(codings.begin(), codings.end(), "chunked") != 1) return "chunked applied more than once";
    }
    if (header.version() >= 11 && hosts == 0) return "missing Host header";
    if (hosts > 1) return "repeated Host header";
    return std::nullopt;
}

}  // namespace hotgate

#include "proxy/forwarding_headers.h"

#include <random>

#include "proxy/http1_framing.h"

namespace hotgate {
namespace {

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// RFC 7239 6: an IPv6 node is a quoted, bracketed string.
std::string forwardedNode(const asio::ip::address& address) {
    if (address.is_v6()) return "\"[" + address.to_string() + "]\"";
    return address.to_string();
}

// RFC 7239 4: a value that is not a token is a quoted-string.
std::string forwardedValue(std::string_view value) {
    if (http1::isToken(value)) return std::string(value);
    std::string quoted = "\"";
    for (char c : value) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return quoted + "\"";
}

std::string joined(std::string_view before, std::string_view hop) {
    const auto kept = trimmed(before);
    return kept.empty() ? std::string(hop) : std::string(kept) + ", " + std::string(hop);
}

}  // namespace

template <bool isRequest>
void eraseHopByHop(http::header<isRequest>& header, bool keep_upgrade) {
    std::vector<std::string> named;
    for (auto [it, end] = header.equal_range(http::field::connection); it != end; ++it) {
        std::string_view list = it->value();
        std::size_t start = 0;
        while (start < list.size()) {
            const auto comma = list.find(',', start);
            const auto token = trimmed(list.substr(start, comma == std::string_view::npos ? list.npos : comma - start));
            if (!token.empty()) named.emplace_back(token);
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
    }
    for (const auto& name : named) {
        if (keep_upgrade && beast::iequals(name, "upgrade")) continue;
        if (beast::iequals(name, "host")) continue;  // never hop-by-hop, whatever a client claims
        header.erase(name);
    }
    header.erase(http::field::connection);
    header.erase(http::field::keep_alive);
    header.erase("Proxy-Connection");
    header.erase(http::field::te);
    header.erase(http::field::trailer);
    header.erase("HTTP2-Settings");
    if (!keep_upgrade) header.erase(http::field::upgrade);
}

template void eraseHopByHop<true>(http::header<true>&, bool);
template void eraseHopByHop<false>(http::header<false>&, bool);

namespace {

constexpr std::string_view kStatedByGateway[] = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                                                  "forwarded",       "x-request-id",      "host",
                                                  "content-length",  "transfer-encoding"};

// "X_Forwarded_For": some upstream frameworks read it as X-Forwarded-For (CGI-style names map
// both to HTTP_X_FORWARDED_FOR). Such spellings of the fields the gateway states or frames
// with are dropped.
void eraseUnderscoreSpellings(http::request_header<>& request) {
    std::vector<std::string> doomed;
    for (const auto& field : request) {
        const auto name = field.name_string();
        if (name.find('_') == beast::string_view::npos) continue;
        std::string dashed(name);
        for (auto& c : dashed) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (auto stated : kStatedByGateway)
            if (dashed == stated) doomed.emplace_back(name);
    }
    for (const auto& name : doomed) request.erase(name);
}

}  // namespace

void setForwardingHeaders(http::request_header<>& request, const ClientFacts& client) {
    eraseUnderscoreSpellings(request);
    const std::string ip = client.address.to_string();
    const std::string_view proto = client.tls ? "https" : "http";
    const std::string host(request[http::field::host]);

    std::string forwarded_for = ip;
    std::string forwarded = "for=" + forwardedNode(client.address) + ";proto=" + std::string(proto);
    if (!host.empty()) forwarded += ";host=" + forwardedValue(host);
    if (client.trusted) {
        std::string before_for, before_forwarded;
        for (auto [it, end] = request.equal_range("X-Forwarded-For"); it != end; ++it)
            before_for = joined(before_for, it->value());
        for (auto [it, end] = request.equal_range(http::field::forwarded); it != end; ++it)
            before_forwarded = joined(before_forwarded, it->value());
        forwarded_for = joined(before_for, forwarded_for);
        forwarded = joined(before_forwarded, forwarded);
    }
    request.set("X-Forwarded-For", forwarded_for);
    request.set(http::field::forwarded, forwarded);
    if (!client.trusted || request["X-Forwarded-Proto"].empty()) request.set("X-Forwarded-Proto", proto);
    if (!client.trusted || request["X-Forwarded-Host"].empty()) {
        if (host.empty())
            request.erase("X-Forwarded-Host");
        else
            request.set("X-Forwarded-Host", host);
    }
}

bool isWellFormedRequestId(std::string_view value) {
    return value.size() <= 128 && http1::isToken(value);
}

std::string ensureRequestId(http::request_header<>& request) {
    const auto present = request.equal_range("X-Request-Id");
    if (present.first != present.second && std::next(present.first) == present.second &&
        isWellFormedRequestId(present.first->value()))
        return std::string(present.first->value());
    // A per-thread generator seeded once from the OS: ids are unique, not secrets.
    thread_local std::mt19937_64 generator{std::random_device{}()};
    const std::uint64_t high = generator(), low = generator();
    std::uint8_t bytes[16];
    for (int i = 0; i < 8; ++i) {
        bytes[i] = static_cast<std::uint8_t>(high >> (56 - 8 * i));
        bytes[8 + i] = static_cast<std::uint8_t>(low >> (56 - 8 * i));
    }
    bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
    bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // RFC 9562 variant
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    id.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
        id += kHex[bytes[i] >> 4];
        id += kHex[bytes[i] & 15];
    }
    request.set("X-Request-Id", id);
    return id;
}

void makeUpstreamHead(http::request_header<>& request, const ClientFacts& client, bool websocket_upgrade,
                      http1::BodyFraming body) {
    eraseHopByHop(request, websocket_upgrade);
    if (websocket_upgrade) request.set(http::field::connection, "Upgrade");
    setForwardingHeaders(request, client);
    ensureRequestId(request);
    request.version(11);
    http1::applyFraming(request, body);
}

bool isTrustedPeer(const asio::ip::address& address, const std::vector<Cidr>& ranges) {
    if (ranges.empty()) return false;
    if (address.is_v4()) {
        const auto bytes = address.to_v4().to_bytes();
        for (const auto& range : ranges)
            if (range.contains(bytes.data(), bytes.size())) return true;
    } else {
        const auto bytes = address.to_v6().to_bytes();
        for (const auto& range : ranges)
            if (range.contains(bytes.data(), bytes.size())) return true;
    }
    return false;
}

}  // namespace hotgate

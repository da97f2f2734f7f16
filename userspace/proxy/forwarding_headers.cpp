#include "proxy/forwarding_headers.h"

#include <random>

#include <boost/container/small_vector.hpp>

namespace hotgate {
namespace {

using Tokens = boost::container::small_vector<std::string_view, 4>;

constexpr std::string_view kStatedByGateway[] = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                                                  "forwarded",       "x-request-id",      "host",
                                                  "content-length",  "transfer-encoding"};

// The tokens of every Connection field: the fields this connection alone uses (RFC 9110 7.6.1).
template <bool isRequest>
Tokens connectionTokens(const http::header<isRequest>& header) {
    Tokens tokens;
    for (auto [it, end] = header.equal_range(http::field::connection); it != end; ++it) {
        const std::string_view list = it->value();
        std::size_t start = 0;
        while (start < list.size()) {
            const auto comma = list.find(',', start);
            const auto token = http1::trimOws(list.substr(start, comma == std::string_view::npos ? list.npos : comma - start));
            if (!token.empty()) tokens.push_back(token);
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
    }
    return tokens;
}

// Fields that only ever concern one connection, whatever Connection lists (RFC 9110 7.6.1;
// HTTP2-Settings, RFC 9113 3.2.1).
bool alwaysHopByHop(http::field name) {
    switch (name) {
        case http::field::connection:
        case http::field::keep_alive:
        case http::field::proxy_connection:
        case http::field::te:
        case http::field::trailer:
        case http::field::http2_settings: return true;
        default: return false;
    }
}

bool listed(const Tokens& tokens, std::string_view name) {
    for (const auto token : tokens)
        if (http1::iequals(token, name)) return true;
    return false;
}

// "X_Forwarded_For": CGI-style upstream frameworks read it as X-Forwarded-For (both become
// HTTP_X_FORWARDED_FOR), so a client could smuggle a spelling past the gateway's own field.
bool underscoreSpellingOfStated(std::string_view name) {
    if (name.find('_') == std::string_view::npos) return false;
    for (const auto stated : kStatedByGateway) {
        if (stated.size() != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < name.size() && same; ++i) {
            const char c = name[i] == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
            same = c == stated[i];
        }
        if (same) return true;
    }
    return false;
}

// Appends one more comma-separated element (RFC 9110 5.6.1) to `list`.
void appendElement(std::string& list, std::string_view element) {
    element = http1::trimOws(element);
    if (element.empty()) return;
    if (!list.empty()) list += ", ";
    list += element;
}

// RFC 7239 4: a value that is not a token is a quoted-string.
void appendForwardedValue(std::string& out, std::string_view value) {
    if (http1::isToken(value)) {
        out += value;
        return;
    }
    out += '"';
    for (char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

}  // namespace

std::string forwardedNode(const asio::ip::address& address) {
    if (address.is_v6()) return "\"[" + address.to_string() + "]\"";
    return address.to_string();
}

void makeUpstreamHead(http::request_header<>& request, const ClientFacts& client, bool websocket_upgrade,
                      http1::BodyFraming body, RequestTrace& trace) {
    const Tokens hop = connectionTokens(request);
    boost::container::small_vector<http::fields::const_iterator, 8> doomed;
    boost::container::small_vector<http::fields::const_iterator, 2> request_ids;
    boost::container::small_vector<http::fields::const_iterator, 2> traceparents;
    boost::container::small_vector<http::fields::const_iterator, 2> tracestates;
    std::string prior_for;        // a trusted proxy's X-Forwarded-For chain
    std::string prior_forwarded;  // and Forwarded elements, then this hop's
    prior_forwarded.reserve(64);
    bool keep_proto = false;
    bool keep_host_field = false;
    std::string_view host;
    for (auto it = request.begin(); it != request.end(); ++it) {
        const std::string_view name = it->name_string();
        bool drop = false;
        switch (it->name()) {
            case http::field::host: host = it->value(); continue;  // never hop-by-hop
            case http::field::content_length:
            case http::field::transfer_encoding: drop = true; break;
            case http::field::upgrade:
                if (websocket_upgrade) continue;  // kept, though the client's Connection lists it
                drop = true;
                break;
            case http::field::forwarded:
                if (client.trusted) appendElement(prior_forwarded, it->value());
                drop = true;
                break;
            default:
                if (alwaysHopByHop(it->name())) {
                    drop = true;
                } else if (http1::iequals(name, "x-forwarded-for")) {
                    if (client.trusted) appendElement(prior_for, it->value());
                    drop = true;
                } else if (http1::iequals(name, "x-forwarded-proto") || http1::iequals(name, "x-forwarded-host")) {
                    drop = !client.trusted;
                } else {
                    drop = underscoreSpellingOfStated(name);
                }
                break;
        }
        if (!drop) drop = listed(hop, name);
        if (drop) {
            doomed.push_back(it);
        } else if (http1::iequals(name, "x-request-id")) {
            request_ids.push_back(it);
        } else if (trace.enabled && http1::iequals(name, "traceparent")) {
            traceparents.push_back(it);
        } else if (trace.enabled && http1::iequals(name, "tracestate")) {
            tracestates.push_back(it);
        } else if (http1::iequals(name, "x-forwarded-proto")) {
            keep_proto = true;
        } else if (http1::iequals(name, "x-forwarded-host")) {
            keep_host_field = true;
        }
    }
    const bool keep_request_id = request_ids.size() == 1 && isWellFormedRequestId(request_ids.front()->value());
    if (!keep_request_id) doomed.insert(doomed.end(), request_ids.begin(), request_ids.end());
    if (trace.enabled) {
        decideRequestTrace(trace, traceparents.size(),
                           traceparents.empty() ? std::string_view() : traceparents.front()->value());
        if (!trace.keep_client_field) {
            doomed.insert(doomed.end(), traceparents.begin(), traceparents.end());
            // A restarted trace is not the one the client's vendors described.
            if (!trace.client_span) doomed.insert(doomed.end(), tracestates.begin(), tracestates.end());
        }
    }
    for (const auto& it : doomed) request.erase(it);

    if (websocket_upgrade) request.insert(http::field::connection, "Upgrade");
    const std::string_view proto = client.tls ? "https" : "http";
    appendElement(prior_for, client.ip);
    request.insert("X-Forwarded-For", prior_for);
    std::string& forwarded = prior_forwarded;
    if (!forwarded.empty()) forwarded += ", ";
    forwarded += "for=";
    forwarded += client.forwarded_node;
    forwarded += ";proto=";
    forwarded += proto;
    if (!host.empty()) {
        forwarded += ";host=";
        appendForwardedValue(forwarded, host);
    }
    request.insert(http::field::forwarded, forwarded);
    if (!keep_proto) request.insert("X-Forwarded-Proto", proto);
    if (!keep_host_field && !host.empty()) request.insert("X-Forwarded-Host", host);
    if (!keep_request_id) {
        const auto id = newRequestId();
        request.insert("X-Request-Id", std::string_view(id.data(), id.size()));
    }
    if (trace.enabled && !trace.keep_client_field) {
        const auto value = traceparentValue(trace.upstream);
        request.insert("traceparent", std::string_view(value.data(), value.size()));
    }
    request.version(11);
    http1::applyFraming(request, body);
}

template <bool isRequest>
void eraseHopByHop(http::header<isRequest>& header, bool keep_upgrade) {
    const Tokens hop = connectionTokens(header);
    boost::container::small_vector<http::fields::const_iterator, 8> doomed;
    for (auto it = header.begin(); it != header.end(); ++it) {
        bool drop = false;
        switch (it->name()) {
            case http::field::host: continue;  // never hop-by-hop, whatever a peer claims
            case http::field::upgrade: drop = !keep_upgrade; break;
            default: drop = alwaysHopByHop(it->name()) || listed(hop, it->name_string());
        }
        if (drop) doomed.push_back(it);
    }
    for (const auto& it : doomed) header.erase(it);
}

template void eraseHopByHop<true>(http::header<true>&, bool);
template void eraseHopByHop<false>(http::header<false>&, bool);

bool isWellFormedRequestId(std::string_view value) { return value.size() <= 128 && http1::isToken(value); }

std::array<char, 36> newRequestId() {
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
    std::array<char, 36> id{};
    std::size_t at = 0;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) id[at++] = '-';
        id[at++] = kHex[bytes[i] >> 4];
        id[at++] = kHex[bytes[i] & 15];
    }
    return id;
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

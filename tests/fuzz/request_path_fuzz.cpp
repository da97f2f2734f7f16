// libFuzzer target over the request path: bytes as a client sends them, through the code the
// gateway runs (http1::readRequestHead, the strict parser for the body, makeUpstreamHead, Beast's
// serializer), to the bytes an upstream would receive, in both forms the gateway sends (with a
// length when the body is whole, chunked while it streams). Invariant: what is forwarded parses
// back, by the same rules and by Beast's plain parser, to exactly one request with the same
// method, target, end-to-end header fields and body, and no byte left over.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "proxy/forwarding_headers.h"
#include "proxy/http1_framing.h"

namespace {

using namespace hotgate;

constexpr std::size_t kMaxHeader = 16 * 1024;
constexpr std::uint64_t kMaxBody = 1024 * 1024;

[[noreturn]] void violated(const char* what, const std::string& detail) {
    std::fprintf(stderr, "request path invariant violated: %s\n", what);
    for (unsigned char c : detail) std::fprintf(stderr, (c >= 0x20 && c < 0x7f) || c == 0x0a ? "%c" : "\\x%02x", c);
    std::fprintf(stderr, "\n");
    std::abort();
}

struct Parsed {
    http1::BodyFraming framing;  // as the head declared it
    http::request_header<> head;
    std::string body;
    std::size_t used = 0;  // bytes of the input the request took
};

// One request from `bytes` the way the gateway reads it; nullopt when it is refused or incomplete.
std::optional<Parsed> readLikeTheGateway(std::string_view bytes, std::size_t max_header) {
    const std::size_t skipped = http1::leadingEmptyLines(bytes);
    bytes.remove_prefix(skipped);
    const std::size_t head_end = http1::findHeaderEnd(bytes.substr(0, std::min(bytes.size(), max_header + 4)));
    if (head_end == std::string_view::npos) return std::nullopt;
    http1::RequestParser parser;
    parser.header_limit(static_cast<std::uint32_t>(max_header + 4));
    parser.body_limit(kMaxBody);
    auto framing = http1::readRequestHead(bytes.substr(0, head_end), parser);
    if (!framing) return std::nullopt;
    parser.eager(true);
    Parsed out;
    out.framing = *framing;
    std::size_t at = head_end;
    char piece[4096];
    while (!parser.is_done()) {
        parser.get().body().data = piece;
        parser.get().body().size = sizeof piece;
        error_code ec;
        const std::size_t used = parser.put(asio::buffer(bytes.data() + at, bytes.size() - at), ec);
        at += used;
        out.body.append(piece, sizeof piece - parser.get().body().size);
        if (ec == http::error::need_buffer) continue;
        if (ec) return std::nullopt;  // refused, or incomplete (need_more)
        if (used == 0 && !parser.is_done()) return std::nullopt;
    }
    out.head = parser.get().base();
    out.used = skipped + at;
    return out;
}

// The bytes Beast's serializer writes for `head` and `body`, fed as the gateway feeds it
// (sendRequest): buffer_body pieces, an empty piece as nullptr, the body in two pieces when
// streaming (chunked).
std::string serialize(http::request_header<> head, std::string body, bool chunked) {
    http::request<http::buffer_body> request{std::move(head)};
    std::vector<std::string_view> pieces;
    if (chunked && body.size() > 1) {
        pieces = {std::string_view(body).substr(0, body.size() / 2), std::string_view(body).substr(body.size() / 2)};
    } else {
        pieces = {body};
    }
    std::string out;
    std::size_t next_piece = 0;
    auto feed = [&] {  // the next piece, or the end of the body
        const auto piece = next_piece < pieces.size() ? pieces[next_piece++] : std::string_view();
        request.body().data = piece.empty() ? nullptr : const_cast<char*>(piece.data());
        request.body().size = piece.size();
        request.body().more = next_piece < pieces.size();
    };
    feed();
    http::request_serializer<http::buffer_body> serializer{request};
    error_code ec;
    while (!serializer.is_done()) {
        serializer.next(ec, [&](error_code&, const auto& buffers) {
            std::size_t n = 0;
            for (const auto buffer : beast::buffers_range_ref(buffers)) {
                out.append(static_cast<const char*>(buffer.data()), buffer.size());
                n += buffer.size();
            }
            serializer.consume(n);
        });
        if (ec == http::error::need_buffer) {
            ec = {};
            feed();
            continue;
        }
        if (ec) violated("Beast could not serialize the forwarded request", ec.message());
    }
    return out;
}

// The fields the gateway owns toward the upstream: everything else must arrive unchanged.
bool ownedByGateway(const http::fields::value_type& field) {
    switch (field.name()) {
        case http::field::connection:
        case http::field::keep_alive:
        case http::field::te:
        case http::field::trailer:
        case http::field::upgrade:
        case http::field::content_length:
        case http::field::transfer_encoding:
        case http::field::forwarded:
        case http::field::host:
            return true;
        default:
            break;
    }
    for (std::string_view name : {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id",
                                  "traceparent", "tracestate", "proxy-connection", "http2-settings"})
        if (beast::iequals(field.name_string(), name)) return true;
    return field.name_string().find('_') != beast::string_view::npos;
}

std::vector<std::pair<std::string, std::string>> endToEnd(const http::request_header<>& head,
                                                          const http::request_header<>& original) {
    std::vector<std::string> named;  // what the original's Connection field names
    for (auto [it, end] = original.equal_range(http::field::connection); it != end; ++it) {
        std::string_view list = it->value();
        std::size_t start = 0;
        while (start <= list.size()) {
            const auto comma = list.find(',', start);
            auto token = list.substr(start, comma == std::string_view::npos ? list.npos : comma - start);
            while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
            while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
            if (!token.empty()) named.emplace_back(token);
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
    }
    std::vector<std::pair<std::string, std::string>> fields;
    for (const auto& field : head) {
        if (ownedByGateway(field)) continue;
        bool hop = false;
        for (const auto& name : named) hop = hop || beast::iequals(field.name_string(), name);
        if (!hop) fields.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    return fields;
}

void checkForwarded(const Parsed& original, const std::string& forwarded) {
    // The gateway's own fields may take a request at the header limit past it: a few fixed
    // ones, and the Host stated twice more (Forwarded host=, X-Forwarded-Host).
    const std::size_t stated_host = 2 * (original.head[http::field::host].size() + 2);
    const auto again = readLikeTheGateway(forwarded, kMaxHeader + 4096 + stated_host);
    if (!again) violated("the forwarded request is refused by the gateway's own rules", forwarded);
    if (again->used != forwarded.size()) violated("bytes left over after the forwarded request", forwarded);
    if (again->head.method_string() != original.head.method_string()) violated("method changed", forwarded);
    if (again->head.target() != original.head.target()) violated("target changed", forwarded);
    if (again->body != original.body) violated("body changed", forwarded);
    if (endToEnd(again->head, original.head) != endToEnd(original.head, original.head))
        violated("end-to-end header fields changed", forwarded);
    if (again->head[http::field::host] != original.head[http::field::host] && original.head.count(http::field::host))
        violated("Host changed", forwarded);

    // A lenient reader (Beast alone, no extra rules) must see the same single request.
    http::request_parser<http::string_body> lenient;
    lenient.eager(true);
    lenient.header_limit(kMaxHeader + 4096 + stated_host);
    lenient.body_limit(kMaxBody);
    error_code ec;
    const std::size_t used = lenient.put(asio::buffer(forwarded), ec);
    if (ec || !lenient.is_done() || used != forwarded.size()) violated("Beast reads the forwarded bytes differently", forwarded);
    if (lenient.get().body() != original.body) violated("Beast reads another body", forwarded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto original = readLikeTheGateway(input, kMaxHeader);
    if (!original) return 0;
    // The gateway sends a body whole in hand with its length, and a chunked one still streaming
    // re-chunked; a request without a body goes without one.
    const bool has_body = original->framing.kind != http1::BodyKind::None;
    for (bool trusted : {false, true}) {
        for (bool chunked : {false, true}) {
            if (chunked && original->framing.kind != http1::BodyKind::Chunked) continue;
            auto head = original->head;
            const ClientFacts client{"192.0.2.1", "192.0.2.1", chunked, trusted};
            const auto framing = chunked    ? http1::BodyFraming::chunked()
                                 : has_body ? http1::BodyFraming::ofLength(original->body.size())
                                            : http1::BodyFraming::none();
            RequestTrace trace;  // tracing on, with a hop that records and one that does not
            trace.enabled = true;
            trace.sample_ratio = trusted ? 1.0 : 0.0;
            makeUpstreamHead(head, client, /*websocket_upgrade=*/false, framing, trace);
            // As the gateway does once it has picked an endpoint (HTTP/1.0 clients may send no Host).
            if (head.count(http::field::host) == 0) head.set(http::field::host, "127.0.0.1:9000");
            checkForwarded(*original, serialize(std::move(head), original->body, chunked));
        }
    }
    return 0;
}

#include "proxy/http1_framing.h"

#include <vector>

namespace hotgate::http1 {
namespace {

bool listHas(const HeadFacts::Values& values, std::string_view token) {
    for (auto value : values) {
        std::size_t start = 0;
        while (start <= value.size()) {
            const auto comma = value.find(',', start);
            const auto item = trimOws(value.substr(start, comma == std::string_view::npos ? value.npos : comma - start));
            if (iequals(item, token)) return true;
            if (comma == std::string_view::npos) break;
            start = comma + 1;
        }
    }
    return false;
}

// A request's Transfer-Encoding value (one field): only a single final "chunked" is accepted.
tl::expected<BodyFraming, FramingError> requestTransferCoding(std::string_view value) {
    std::vector<std::string_view> codings;
    std::size_t start = 0;
    while (start <= value.size()) {
        const auto comma = value.find(',', start);
        codings.push_back(trimOws(value.substr(start, comma == std::string_view::npos ? value.npos : comma - start)));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    std::size_t chunked = 0;
    for (const auto coding : codings) {
        if (coding.empty()) return tl::unexpected(FramingError{400, "empty transfer coding in Transfer-Encoding"});
        if (coding.find(';') != std::string_view::npos)
            return tl::unexpected(FramingError{400, "transfer coding with parameters \"" + printable(coding) + "\""});
        if (!isToken(coding))
            return tl::unexpected(FramingError{400, "malformed transfer coding \"" + printable(coding) + "\""});
        if (iequals(coding, "identity"))
            return tl::unexpected(FramingError{400, "\"identity\" is not a transfer coding"});
        if (iequals(coding, "chunked")) ++chunked;
    }
    // RFC 9112 6.3: without a final chunked the length cannot be known (400); with it, a coding
    // before it that hotgate does not decode is 501 (6.1).
    if (!iequals(codings.back(), "chunked")) return tl::unexpected(FramingError{400, "Transfer-Encoding does not end in chunked"});
    if (chunked > 1) return tl::unexpected(FramingError{400, "chunked applied more than once"});
    for (const auto coding : codings)
        if (!iequals(coding, "chunked"))
            return tl::unexpected(
                FramingError{501, "transfer coding \"" + printable(coding) + "\" is not implemented"});
    return BodyFraming::chunked();
}

tl::expected<BodyFraming, FramingError> requestFraming(const HeadFacts& head) {
    if (head.version >= 11 && head.host.empty()) return tl::unexpected(FramingError{400, "missing Host header"});
    if (head.host.size() > 1) return tl::unexpected(FramingError{400, "repeated Host header"});
    if (!head.host.empty() && !isValidAuthority(head.host.front()))
        return tl::unexpected(FramingError{400, "malformed Host \"" + printable(head.host.front()) + "\""});

    if (!head.content_length.empty() && !head.transfer_encoding.empty())
        return tl::unexpected(FramingError{400, "both Content-Length and Transfer-Encoding"});
    if (!head.transfer_encoding.empty()) {
        if (head.version < 11) return tl::unexpected(FramingError{400, "Transfer-Encoding in an HTTP/1.0 request"});
        if (head.transfer_encoding.size() > 1) return tl::unexpected(FramingError{400, "repeated Transfer-Encoding"});
        return requestTransferCoding(head.transfer_encoding.front());
    }
    if (head.content_length.size() > 1) return tl::unexpected(FramingError{400, "repeated Content-Length"});
    if (head.content_length.size() == 1) {
        const auto length = parseContentLength(head.content_length.front());
        if (!length)
            return tl::unexpected(FramingError{400, "bad Content-Length \"" + printable(head.content_length.front()) + "\""});
        return BodyFraming::ofLength(*length);
    }
    return BodyFraming::none();
}

tl::expected<BodyFraming, FramingError> responseFraming(const HeadFacts& head, http::verb request_method) {
    auto refused = [](std::string reason) { return tl::unexpected(FramingError{502, std::move(reason)}); };
    if (!head.content_length.empty() && !head.transfer_encoding.empty())
        return refused("upstream sent both Content-Length and Transfer-Encoding");
    if (head.content_length.size() > 1) return refused("upstream sent Content-Length more than once");
    if (head.transfer_encoding.size() > 1) return refused("upstream sent Transfer-Encoding more than once");
    std::optional<std::uint64_t> length;
    if (!head.content_length.empty()) {
        length = parseContentLength(head.content_length.front());
        if (!length) return refused("upstream sent a bad Content-Length \"" + printable(head.content_length.front()) + "\"");
    }
    const bool chunked = !head.transfer_encoding.empty() && iequals(head.transfer_encoding.front(), "chunked");
    if (!head.transfer_encoding.empty() && !chunked)
        return refused("upstream sent transfer coding \"" + printable(head.transfer_encoding.front()) +
                       "\" (only chunked is accepted)");
    if (head.status / 100 == 1) {
        if (length || chunked) return refused("upstream sent framing fields on a " + std::to_string(head.status) + " response");
        return BodyFraming::none();
    }
    if (head.status == 204) {
        if (chunked || (length && *length != 0)) return refused("upstream sent a body length on a 204 response");
        return BodyFraming::none();
    }
    if (request_method == http::verb::head || head.status == 304) return BodyFraming::none(length);
    if (chunked) return BodyFraming::chunked();
    if (length) return BodyFraming::ofLength(*length);
    const bool closes = listHas(head.connection, "close") || (head.version < 11 && !listHas(head.connection, "keep-alive"));
    if (!closes) return refused("upstream response has a body but neither a length nor chunked, and keeps the connection");
    return BodyFraming::untilClose();
}

// Whether Beast, which reads the body, reads it as `framing` says.
template <bool isRequest>
bool beastAgrees(const http::parser<isRequest, http::buffer_body>& parser, const BodyFraming& framing) {
    switch (framing.kind) {
        case BodyKind::None: return !parser.chunked() && (parser.is_done() || parser.content_length() == std::uint64_t{0});
        case BodyKind::Length: return !parser.chunked() && parser.content_length() == framing.length;
        case BodyKind::Chunked: return parser.chunked();
        case BodyKind::UntilClose: return !parser.chunked() && !parser.content_length() && !parser.is_done();
    }
    return false;
}

// Beast's parse of a head that scanHead accepted; `status` is what a refusal answers.
template <class Parser>
std::optional<FramingError> beastParse(std::string_view block, Parser& parser, unsigned status) {
    parser.eager(false);
    error_code ec;
    parser.put(asio::buffer(block.data(), block.size()), ec);
    if (ec == http::error::body_limit) return FramingError{413, "request body too large"};
    if (ec || !parser.is_header_done())
        return FramingError{status, "head refused by the parser: " + (ec ? ec.message() : std::string("incomplete"))};
    return std::nullopt;
}

}  // namespace

tl::expected<BodyFraming, FramingError> readRequestHead(std::string_view block, RequestParser& parser) {
    HeadFacts head;
    if (auto problem = scanHead(block, Direction::Request, head)) return tl::unexpected(std::move(*problem));
    auto framing = requestFraming(head);
    if (!framing) return framing;
    if (auto problem = beastParse(block, parser, 400)) return tl::unexpected(std::move(*problem));
    // A request with no framing has no body; Beast says so with is_done (no Content-Length).
    if (framing->kind == BodyKind::None ? !parser.is_done() : !beastAgrees(parser, *framing))
        return tl::unexpected(FramingError{400, "ambiguous message framing"});
    auto& request = parser.get();
    if (head.target.front() != '/' && head.target != "*") {
        auto parts = absoluteFormParts(head.target);  // scanHead accepted it
        request.set(http::field::host, parts->authority);
        request.target(parts->origin_form);
    }
    return framing;
}

tl::expected<BodyFraming, FramingError> readResponseHead(std::string_view block, ResponseParser& parser,
                                                         http::verb request_method) {
    HeadFacts head;
    if (auto problem = scanHead(block, Direction::Response, head)) return tl::unexpected(std::move(*problem));
    auto framing = responseFraming(head, request_method);
    if (!framing) return framing;
    parser.skip(request_method == http::verb::head);
    if (auto problem = beastParse(block, parser, 502)) return tl::unexpected(std::move(*problem));
    if (head.status != 101 && !beastAgrees(parser, *framing))
        return tl::unexpected(FramingError{502, "ambiguous response framing"});
    return framing;
}

bool forbiddenInTrailer(http::field name, std::string_view name_string) {
    switch (name) {
        case http::field::content_length:
        case http::field::transfer_encoding:
        case http::field::host:
        case http::field::trailer:
        case http::field::te:
        case http::field::connection:
        case http::field::keep_alive:
        case http::field::upgrade:
        case http::field::expect:
        case http::field::max_forwards:
        case http::field::cache_control:
        case http::field::pragma:
        case http::field::range:
        case http::field::if_match:
        case http::field::if_none_match:
        case http::field::if_modified_since:
        case http::field::if_unmodified_since:
        case http::field::if_range:
        case http::field::authorization:
        case http::field::proxy_authorization:
        case http::field::cookie:
        case http::field::set_cookie:
        case http::field::content_encoding:
        case http::field::content_type:
        case http::field::content_range:
        case http::field::forwarded:
            return true;
        default:
            break;
    }
    for (std::string_view forwarding : {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"})
        if (iequals(name_string, forwarding)) return true;
    return false;
}

void RequestParser::on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                                  error_code& ec) {
    if (!is_header_done()) {
        get().insert(name, name_string, value);
        return;
    }
    if (forbiddenInTrailer(name, std::string_view(name_string.data(), name_string.size())))
        ec = http::error::bad_field;
}

template <bool isRequest>
void applyFraming(http::header<isRequest>& header, BodyFraming framing) {
    header.erase(http::field::content_length);
    header.erase(http::field::transfer_encoding);
    switch (framing.kind) {
        case BodyKind::Length: header.set(http::field::content_length, std::to_string(framing.length)); break;
        case BodyKind::Chunked: header.set(http::field::transfer_encoding, "chunked"); break;
        case BodyKind::None:
            if (framing.declared_length)
                header.set(http::field::content_length, std::to_string(*framing.declared_length));
            break;
        case BodyKind::UntilClose: break;
    }
}

template void applyFraming<true>(http::header<true>&, BodyFraming);
template void applyFraming<false>(http::header<false>&, BodyFraming);

}  // namespace hotgate::http1

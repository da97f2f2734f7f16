// HTTP/1.1 framing (RFC 9112 6-7), in one place for requests and responses: from a head that
// http1_head.h found well formed, the one reading of its body length, or why the message is
// refused; and the framing hotgate writes on what it forwards. A proxy must not be lenient where
// the next hop could read the same bytes differently, so hotgate re-frames everything it sends
// (applyFraming): it never copies a peer's Content-Length or Transfer-Encoding. The rules are
// listed in docs/framing.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <tl/expected.hpp>

#include "proxy/asio.h"
#include "proxy/http1_head.h"

namespace hotgate::http1 {

enum class BodyKind {
    None,        // no body (no framing fields, or a response that cannot have one)
    Length,      // exactly `length` bytes
    Chunked,     // chunked transfer coding, final
    UntilClose,  // responses only: the body ends when the upstream closes
};

struct BodyFraming {
    BodyKind kind = BodyKind::None;
    std::uint64_t length = 0;  // BodyKind::Length: the body's size
    // BodyKind::None in a response to HEAD or a 304: the Content-Length the upstream declared for
    // the representation, passed on as information.
    std::optional<std::uint64_t> declared_length;

    static BodyFraming none(std::optional<std::uint64_t> declared = std::nullopt) {
        return {BodyKind::None, 0, declared};
    }
    static BodyFraming ofLength(std::uint64_t length) { return {BodyKind::Length, length, std::nullopt}; }
    static BodyFraming chunked() { return {BodyKind::Chunked, 0, std::nullopt}; }
    static BodyFraming untilClose() { return {BodyKind::UntilClose, 0, std::nullopt}; }

    bool operator==(const BodyFraming&) const = default;
};

// Beast's request parser, except that trailer fields (after a chunked body) are never merged
// into the header, where they would be forwarded as header fields: a field that RFC 9110 6.5.1
// forbids in a trailer (framing, routing, authentication, content metadata) fails the body with
// an error; others are dropped (hotgate does not forward request trailers).
class RequestParser final : public http::request_parser<http::buffer_body> {
private:
    void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                       error_code& ec) override;
};

using ResponseParser = http::response_parser<http::buffer_body>;

// Reads a complete request head (the bytes findHeaderEnd delimits, empty lines before it already
// dropped) into `parser`: scanHead, the framing decision, Beast's parse of the same bytes, and
// Beast's own reading of the body agreeing with ours. The decision refuses Content-Length with
// Transfer-Encoding, more than one of either, a Content-Length that is not one decimal number,
// any transfer coding but one final "chunked" (400; 501 for a well-formed coding hotgate does
// not implement), Transfer-Encoding on HTTP/1.0, a missing, repeated or malformed Host, and a
// declared length over the parser's body limit (413). An absolute-form target becomes Host and
// the origin-form. Set the parser's limits first.
tl::expected<BodyFraming, FramingError> readRequestHead(std::string_view block, RequestParser& parser);

// Reads a complete upstream response head into `parser` the same way, for a request with
// `request_method`. Every refusal is 502: Content-Length with Transfer-Encoding, Content-Length
// repeated or malformed, any transfer coding but "chunked", framing fields on 1xx or a length on
// 204, and a body with no framing from an upstream that does not say it closes.
tl::expected<BodyFraming, FramingError> readResponseHead(std::string_view block, ResponseParser& parser,
                                                         http::verb request_method);

// True when a field of this name may not appear in a trailer section (RFC 9110 6.5.1).
bool forbiddenInTrailer(http::field name, std::string_view name_string);

// Replaces every Content-Length and Transfer-Encoding field with the framing of what is sent.
// A response to HEAD, or a 304, keeps a validated Content-Length as information.
template <bool isRequest>
void applyFraming(http::header<isRequest>& header, BodyFraming framing);

}  // namespace hotgate::http1

// The grammar of an HTTP/1.1 head (RFC 9112 2-5, RFC 9110 5-7): where it ends, whether every line
// of it is well formed, and the few fields its framing depends on, read from the raw bytes. The
// framing decision built on it is in http1_framing.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <boost/container/small_vector.hpp>

namespace hotgate::http1 {

enum class Direction { Request, Response };

// Why a message is refused. For a request, `status` is what the client gets (400, 413, 501, 505);
// for an upstream response the client always gets 502 and `status` is 502.
struct FramingError {
    unsigned status = 400;
    std::string reason;
};

// What a well-formed head says about its framing: its start line and the values of the fields
// the framing depends on (views into the head's bytes), in order.
struct HeadFacts {
    using Values = boost::container::small_vector<std::string_view, 2>;  // one each, usually

    unsigned version = 11;  // 10 or 11
    std::string_view method;
    std::string_view target;
    unsigned status = 0;  // responses
    Values content_length;
    Values transfer_encoding;
    Values host;
    Values connection;
};

// Offset just past the empty line that ends the head in `data`, or npos when it is not there
// yet. A bare "\n\n" also ends it, so that scanHead() can refuse it instead of waiting.
std::size_t findHeaderEnd(std::string_view data);

// Number of bytes of empty lines (CRLF) in front of a request line, which RFC 9112 2.2 lets a
// server ignore (some clients send one after a POST body).
std::size_t leadingEmptyLines(std::string_view data);

// Checks a complete head block (start line through the empty line) and fills `facts`: a
// request-line or status-line, field-lines as `token ":" OWS value OWS`, CRLF line ends only.
// Refuses bare CR or LF, NUL and other control bytes, obs-fold, white space before a colon, a
// malformed start line or request-target, CONNECT (501), and versions other than HTTP/1.0 and
// HTTP/1.1 (505 when well formed).
std::optional<FramingError> scanHead(std::string_view block, Direction direction, HeadFacts& facts);

// True when `name` is a token (RFC 9110 5.6.2).
bool isToken(std::string_view name);

// True when `text` is uri-host [":" port] (RFC 9110 7.2): a reg-name, an IPv4 address or a
// bracketed IP literal, and a port of at most five digits.
bool isValidAuthority(std::string_view text);

// 1*DIGIT (RFC 9110 8.6) after trimming OWS; nullopt when it is not that or does not fit 63 bits.
std::optional<std::uint64_t> parseContentLength(std::string_view text);

// `text` without leading and trailing SP and HTAB.
std::string_view trimOws(std::string_view text);

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

// `text` for an error message: control and non-ASCII bytes as \xHH, at most 64 bytes.
std::string printable(std::string_view text);

// An absolute-form request-target ("http://host:port/path?q") split into its authority, which
// replaces Host (RFC 9112 3.2.2), and the origin-form sent upstream ("/path?q", at least "/").
struct AbsoluteForm {
    std::string authority;
    std::string origin_form;
};
// nullopt unless `target` is an http or https URI with a valid authority and no userinfo.
std::optional<AbsoluteForm> absoluteFormParts(std::string_view target);

}  // namespace hotgate::http1

// HTTP/2 messages to and from the HTTP/1.1 engine (docs/http2.md): an HTTP/2 request becomes
// the HTTP/1.1 request head the HTTP/1.1 engine serves (RFC 9113 8.3.1 pseudo-fields to the
// request line and Host, Cookie fields joined, RFC 9113 8.2.3), and the engine's response head
// becomes the HTTP/2 response fields (connection-specific fields dropped, RFC 9113 8.2.2).
// nghttp2 has already checked every field against RFC 9113 8.2 (no CR, LF or NUL, lower-case
// names, no connection-specific fields, pseudo-fields well formed); these functions still
// refuse what would break the HTTP/1.1 framing they write, so a head can never carry a second
// request.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "proxy/asio.h"

namespace hotgate::h2 {

struct Field {
    std::string name;
    std::string value;
};

// A request as its HEADERS frame (and CONTINUATIONs) carried it.
struct RequestFields {
    std::string method;     // :method
    std::string path;       // :path
    std::string authority;  // :authority (may be empty: then the host field)
    std::vector<Field> fields;  // the others, in order
};

// How the translated request's body is framed on the HTTP/1.1 side.
enum class RequestBody {
    None,     // the HEADERS frame ended the stream
    Length,   // the client gave content-length, which nghttp2 holds its DATA to
    Chunked,  // DATA of unknown total length: re-chunked
};

struct Http1Request {
    std::string head;  // request line, fields, empty line
    RequestBody body = RequestBody::None;
};

// Why a request is answered by hotgate instead: 400 (a field the HTTP/1.1 side cannot carry),
// 501 (CONNECT).
struct Refusal {
    unsigned status = 400;
    std::string reason;
};

// Connection-specific fields (RFC 9113 8.2.2, lower-case names): never in an HTTP/2 message.
bool connectionSpecific(std::string_view name);
// A field name as HTTP/2 writes it: lower-case.
std::string lower(std::string_view text);

// The HTTP/1.1 head for `request`; `ends_stream`: no DATA follows.
tl::expected<Http1Request, Refusal> toHttp1(const RequestFields& request, bool ends_stream);

// The HTTP/2 response fields (":status" first) of an HTTP/1.1 response head. Names lower-case;
// Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade and TE are dropped, and
// the fields Connection names.
std::vector<Field> toHttp2(const http::response_header<>& head);

// One chunk of a chunked body, as written on the HTTP/1.1 side ("<hex>\r\n<data>\r\n");
// the last chunk is "0\r\n\r\n".
std::string chunkHeader(std::size_t size);
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// The client connection preface's first line (RFC 9113 3.4), as an HTTP/1.1 parser sees it.
inline constexpr std::string_view kPrefaceHead = "PRI * HTTP/2.0\r\n\r\n";

}  // namespace hotgate::h2

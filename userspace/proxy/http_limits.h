// Request framing checks that keep a second request from being smuggled past the proxy.
// Beast's parser is lenient where RFC 9112 allows a server to be; a proxy must not be,
// because the upstream may frame the same bytes differently.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "proxy/asio.h"

namespace hotgate {

// Offset just past the blank line ending the header block in `data`, or npos when the block is
// not complete yet. A bare "\n\n" also ends it (so that framingProblemInHeaderBytes can refuse it).
std::size_t findHeaderEnd(std::string_view data);

// Checks the raw header block (request line through the blank line). Returns the reason when it
// holds a bare LF where CRLF is required, obsolete line folding, or a NUL byte.
std::optional<std::string> framingProblemInHeaderBytes(std::string_view header_block);

// Checks the parsed header: both Content-Length and Transfer-Encoding, differing or duplicate
// Content-Length, a Transfer-Encoding whose last coding is not a single "chunked",
// Transfer-Encoding on HTTP/1.0, a missing or repeated Host on HTTP/1.1.
std::optional<std::string> framingProblemInHeader(const http::request_header<>& header);

}  // namespace hotgate

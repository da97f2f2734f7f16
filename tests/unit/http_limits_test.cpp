// Request framing checks, fed through Beast's parser on its in-memory test stream as the
// proxy feeds them from a socket.
#include <gtest/gtest.h>

#include <boost/beast/_experimental/test/stream.hpp>

#include "proxy/http_limits.h"

namespace hotgate {
namespace {

// Parses `raw` with Beast from a test stream; returns the framing problem of its header, or
// "beast: <error>" when Beast itself refuses it, or "" when the request is acceptable.
std::string problemOf(const std::string& raw) {
    asio::io_context io;
    beast::test::stream client(io, raw);  // reads from it return `raw`
    if (auto problem = framingProblemInHeaderBytes(raw.substr(0, findHeaderEnd(raw))); problem) return *problem;
    http::request_parser<http::empty_body> parser;
    beast::flat_buffer buffer;
    error_code ec;
    http::read_header(client, buffer, parser, ec);
    if (ec) return "beast: " + ec.message();
    auto problem = framingProblemInHeader(parser.get());
    return problem ? *problem : "";
}

TEST(FindHeaderEnd, FindsCrlfAndBareLfTerminators) {
    EXPECT_EQ(findHeaderEnd("GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY"), 27u);
    EXPECT_EQ(findHeaderEnd("GET / HTTP/1.1\nHost: a\n\nBODY"), 24u);
    EXPECT_EQ(findHeaderEnd("GET / HTTP/1.1\r\nHost: a\r\n"), std::string_view::npos);
}

TEST(RequestFraming, AcceptsOrdinaryRequests) {
    EXPECT_EQ(problemOf("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), "");
    EXPECT_EQ(problemOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"), "");
    EXPECT_EQ(problemOf("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), "");
    EXPECT_EQ(problemOf("GET / HTTP/1.0\r\n\r\n"), "");  // HTTP/1.0 needs no Host
}

TEST(RequestFraming, RefusesContentLengthWithTransferEncoding) {
    // Beast 1.74 refuses this one itself ("bad Transfer-Encoding"); either refusal is a 400.
    const auto problem =
        problemOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
    EXPECT_TRUE(problem == "both Content-Length and Transfer-Encoding" || problem == "beast: bad Transfer-Encoding")
        << problem;
}

TEST(RequestFraming, RefusesDifferingContentLengths) {
    const auto problem = problemOf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
    EXPECT_FALSE(problem.empty());
}

TEST(RequestFraming, RefusesTransferEncodingNotEndingInChunked) {
    EXPECT_EQ(problemOf("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
              "Transfer-Encoding does not end in chunked");
    EXPECT_EQ(problemOf("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n"),
              "Transfer-Encoding does not end in chunked");
    const auto twice =
        problemOf("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n");
    EXPECT_TRUE(twice == "chunked applied more than once" || twice == "beast: bad Transfer-Encoding") << twice;
}

TEST(RequestFraming, RefusesObsoleteLineFolding) {
    EXPECT_EQ(problemOf("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n"),
              "obsolete line folding in request header");
}

TEST(RequestFraming, RefusesBareLf) {
    EXPECT_EQ(problemOf("GET / HTTP/1.1\nHost: a\n\n"), "bare LF in request header (CRLF required)");
    EXPECT_EQ(problemOf("GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n"), "bare LF in request header (CRLF required)");
}

TEST(RequestFraming, RefusesMissingOrRepeatedHost) {
    EXPECT_EQ(problemOf("GET / HTTP/1.1\r\n\r\n"), "missing Host header");
    EXPECT_EQ(problemOf("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), "repeated Host header");
}

TEST(RequestFraming, RefusesTransferEncodingOnHttp10) {
    EXPECT_EQ(problemOf("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
              "Transfer-Encoding in an HTTP/1.0 request");
}

TEST(BeastParser, EnforcesHeaderLimitOnTestStream) {
    asio::io_context io;
    beast::test::stream client(io, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'x') + "\r\n\r\n");
    http::request_parser<http::empty_body> parser;
    parser.header_limit(1024);
    beast::flat_buffer buffer;
    error_code ec;
    http::read_header(client, buffer, parser, ec);
    EXPECT_EQ(ec, http::error::header_limit);
}

TEST(BeastParser, RefusesBadChunkSize) {
    asio::io_context io;
    beast::test::stream client(io, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
    http::request_parser<http::string_body> parser;
    beast::flat_buffer buffer;
    error_code ec;
    http::read(client, buffer, parser, ec);
    EXPECT_EQ(ec, http::error::bad_chunk);
}

}  // namespace
}  // namespace hotgate

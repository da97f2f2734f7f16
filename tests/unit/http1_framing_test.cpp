// The HTTP/1.1 framing rules (proxy/http1_head.h, proxy/http1_framing.h), fed as the proxy feeds
// them: a complete head block to readRequestHead or readResponseHead.
#include <gtest/gtest.h>

#include "proxy/http1_framing.h"

namespace hotgate::http1 {
namespace {

// The verdict on a request head: "" when accepted (with `framing` set), else "<status> <reason>".
std::string requestVerdict(const std::string& head, BodyFraming* framing = nullptr) {
    RequestParser parser;
    auto decided = readRequestHead(head, parser);
    if (!decided) return std::to_string(decided.error().status) + " " + decided.error().reason;
    if (framing) *framing = *decided;
    return "";
}

std::string responseVerdict(const std::string& head, http::verb method = http::verb::get,
                            BodyFraming* framing = nullptr) {
    ResponseParser parser;
    auto decided = readResponseHead(head, parser, method);
    if (!decided) return std::to_string(decided.error().status) + " " + decided.error().reason;
    if (framing) *framing = *decided;
    return "";
}

std::string statusOf(const std::string& verdict) { return verdict.substr(0, 3); }

TEST(FindHeaderEnd, FindsCrlfAndBareLfTerminators) {
    EXPECT_EQ(findHeaderEnd("GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY"), 27u);
    EXPECT_EQ(findHeaderEnd("GET / HTTP/1.1\nHost: a\n\nBODY"), 24u);
    EXPECT_EQ(findHeaderEnd("GET / HTTP/1.1\r\nHost: a\r\n"), std::string_view::npos);
}

TEST(LeadingEmptyLines, CountsWholeCrlfPairsOnly) {
    EXPECT_EQ(leadingEmptyLines("\r\n\r\nGET"), 4u);
    EXPECT_EQ(leadingEmptyLines("\r\rGET"), 0u);
    EXPECT_EQ(leadingEmptyLines("GET"), 0u);
}

TEST(RequestHead, AcceptsOrdinaryRequests) {
    BodyFraming framing;
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &framing), "");
    EXPECT_EQ(framing, BodyFraming::none());
    EXPECT_EQ(requestVerdict("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", &framing), "");
    EXPECT_EQ(framing, BodyFraming::ofLength(3));
    EXPECT_EQ(requestVerdict("POST / HTTP/1.1\r\nHost: a:8080\r\nTransfer-Encoding: Chunked\r\n\r\n", &framing), "");
    EXPECT_EQ(framing, BodyFraming::chunked());
    EXPECT_EQ(requestVerdict("GET / HTTP/1.0\r\n\r\n"), "");  // HTTP/1.0 needs no Host
    EXPECT_EQ(requestVerdict("GET /a?b=c|d{e} HTTP/1.1\r\nHost: [::1]:80\r\nX:\r\nY: \xa0v\r\n\r\n"), "");
    EXPECT_EQ(requestVerdict("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), "");
    EXPECT_EQ(requestVerdict("GET http://a.example:8080/p?q HTTP/1.1\r\nHost: b\r\n\r\n"), "");
}

TEST(RequestHead, RefusesBadLineEndsAndControlBytes) {
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\nHost: a\n\n"), "400 bare LF in request header (CRLF required)");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n"), "400 bare LF in request header (CRLF required)");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n"), "400 bare CR in request header");
    EXPECT_EQ(requestVerdict(std::string("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 28)), "400 NUL byte in request header");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\nX: a\x0b b\r\n\r\n"), "400 control byte in the value of X");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"), "400 control byte in the value of X");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n"),
              "400 obsolete line folding in header");
}

TEST(RequestHead, RefusesMalformedFieldNames) {
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n"),
              "400 white space between header name and colon");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\nX\tY: z\r\n\r\n"), "400 invalid header name \"X\\x09Y\"");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n"), "400 empty header name");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), "400 header line without a colon");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\n\xa0X: z\r\n\r\n"), "400 invalid header name \"\\xa0X\"");
}

TEST(RequestHead, RefusesMalformedRequestLines) {
    EXPECT_EQ(statusOf(requestVerdict("GET  / HTTP/1.1\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET / HTTP/1.1 \r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("G@T / HTTP/1.1\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET / http/1.1\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET / HTTP/11\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(requestVerdict("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), "505 HTTP version HTTP/2.0 is not supported");
    EXPECT_EQ(statusOf(requestVerdict("GET / HTTP/1.2\r\nHost: a\r\n\r\n")), "505");
    EXPECT_EQ(requestVerdict("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n"), "400 fragment in request-target");
    EXPECT_EQ(statusOf(requestVerdict("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET * HTTP/1.1\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET http://u@a/b HTTP/1.1\r\nHost: a\r\n\r\n")), "400");
    EXPECT_EQ(requestVerdict("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), "501 CONNECT is not supported");
}

TEST(RequestFraming, RefusesEveryTransferCodingButOneFinalChunked) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\n";
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n"),
              "400 repeated Transfer-Encoding");
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: identity, chunked\r\n\r\n"),
              "400 \"identity\" is not a transfer coding");
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: chunked, gzip\r\n\r\n"),
              "400 Transfer-Encoding does not end in chunked");
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: gzip\r\n\r\n"), "400 Transfer-Encoding does not end in chunked");
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: xchunked\r\n\r\n"),
              "400 Transfer-Encoding does not end in chunked");
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: chunked, chunked\r\n\r\n"), "400 chunked applied more than once");
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: gzip, chunked\r\n\r\n"),
              "501 transfer coding \"gzip\" is not implemented");
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: chunked;a=b\r\n\r\n"),
              "400 transfer coding with parameters \"chunked;a=b\"");
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: ,chunked\r\n\r\n"), "400 empty transfer coding in Transfer-Encoding");
    EXPECT_EQ(requestVerdict(head + "Transfer-Encoding: \xa0" "chunked\r\n\r\n"),
              "400 malformed transfer coding \"\\xa0chunked\"");
    EXPECT_EQ(requestVerdict(head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
              "400 both Content-Length and Transfer-Encoding");
    EXPECT_EQ(requestVerdict("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
              "400 Transfer-Encoding in an HTTP/1.0 request");
}

TEST(RequestFraming, RefusesEveryContentLengthButOneNumber) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\n";
    EXPECT_EQ(requestVerdict(head + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n"), "400 repeated Content-Length");
    EXPECT_EQ(statusOf(requestVerdict(head + "Content-Length: 5, 5\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict(head + "Content-Length: +5\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict(head + "Content-Length: -1\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict(head + "Content-Length: 0x5\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict(head + "Content-Length: 99999999999999999999\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict(head + "Content-Length:\r\n\r\n")), "400");
    BodyFraming framing;
    EXPECT_EQ(requestVerdict(head + "Content-Length: 007\r\n\r\n", &framing), "");
    EXPECT_EQ(framing, BodyFraming::ofLength(7));
}

TEST(RequestFraming, RefusesMissingRepeatedOrMalformedHost) {
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\n\r\n"), "400 missing Host header");
    EXPECT_EQ(requestVerdict("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), "400 repeated Host header");
    EXPECT_EQ(statusOf(requestVerdict("GET / HTTP/1.1\r\nHost:\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET / HTTP/1.1\r\nHost: a b\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n")), "400");
    EXPECT_EQ(statusOf(requestVerdict("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n")), "400");
}

TEST(ResponseFraming, ReadsTheBodyLengthByRfc9112Section6_3) {
    BodyFraming framing;
    EXPECT_EQ(responseVerdict("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", http::verb::get, &framing), "");
    EXPECT_EQ(framing, BodyFraming::ofLength(5));
    EXPECT_EQ(responseVerdict("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", http::verb::get, &framing), "");
    EXPECT_EQ(framing, BodyFraming::chunked());
    EXPECT_EQ(responseVerdict("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", http::verb::get, &framing), "");
    EXPECT_EQ(framing, BodyFraming::untilClose());
    EXPECT_EQ(responseVerdict("HTTP/1.0 200 OK\r\n\r\n", http::verb::get, &framing), "");
    EXPECT_EQ(framing, BodyFraming::untilClose());
    EXPECT_EQ(responseVerdict("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", http::verb::head, &framing), "");
    EXPECT_EQ(framing, BodyFraming::none(5));
    EXPECT_EQ(responseVerdict("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", http::verb::get, &framing), "");
    EXPECT_EQ(framing, BodyFraming::none(9));
    EXPECT_EQ(responseVerdict("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", http::verb::get, &framing), "");
    EXPECT_EQ(framing, BodyFraming::none());
    EXPECT_EQ(responseVerdict("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"), "");  // an empty reason phrase
}

TEST(ResponseFraming, RefusesWhatCouldDesyncThePool) {
    EXPECT_EQ(responseVerdict("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
              "502 upstream sent both Content-Length and Transfer-Encoding");
    EXPECT_EQ(responseVerdict("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
              "502 upstream sent Content-Length more than once");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")), "502");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n")), "502");
    EXPECT_EQ(responseVerdict("HTTP/1.1 200 OK\r\n\r\n"),
              "502 upstream response has a body but neither a length nor chunked, and keeps the connection");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n")), "502");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")), "502");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n")), "502");
    EXPECT_EQ(statusOf(responseVerdict(std::string("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 28))), "502");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n")), "502");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/1.1 099 Low\r\n\r\n")), "502");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/2 200 OK\r\n\r\n")), "502");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/1.1 2000 OK\r\n\r\n")), "502");
    EXPECT_EQ(statusOf(responseVerdict("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")), "502");  // no SP
}

TEST(ApplyFraming, ReplacesThePeersFramingWithOurs) {
    http::request_header<> request;
    request.insert(http::field::transfer_encoding, "identity");
    request.insert(http::field::transfer_encoding, "chunked");
    request.insert(http::field::content_length, "7");
    applyFraming(request, BodyFraming::ofLength(5));
    EXPECT_EQ(request.count(http::field::transfer_encoding), 0u);
    EXPECT_EQ(request.count(http::field::content_length), 1u);
    EXPECT_EQ(request[http::field::content_length], "5");
    applyFraming(request, BodyFraming::chunked());
    EXPECT_EQ(request.count(http::field::content_length), 0u);
    EXPECT_EQ(request[http::field::transfer_encoding], "chunked");
    applyFraming(request, BodyFraming::none());
    EXPECT_EQ(request.count(http::field::content_length) + request.count(http::field::transfer_encoding), 0u);
}

TEST(AbsoluteForm, SplitsAuthorityAndOriginForm) {
    auto parts = absoluteFormParts("http://Pay.Example:8443/a/b?c=d");
    ASSERT_TRUE(parts);
    EXPECT_EQ(parts->authority, "Pay.Example:8443");
    EXPECT_EQ(parts->origin_form, "/a/b?c=d");
    EXPECT_EQ(absoluteFormParts("https://a")->origin_form, "/");
    EXPECT_EQ(absoluteFormParts("http://a?x")->origin_form, "/?x");
    EXPECT_FALSE(absoluteFormParts("http://user@a/"));
    EXPECT_FALSE(absoluteFormParts("http:///p"));
    EXPECT_FALSE(absoluteFormParts("gopher://a/"));
}

// Trailer fields are read, never merged into the header that is forwarded; framing, routing and
// forwarding fields in a trailer fail the body.
TEST(RequestParser, KeepsTrailersOutOfTheHeader) {
    const std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const std::string trailer : {"X-Checksum: 1", "X-Forwarded-For: 1.2.3.4", "Content-Length: 5"}) {
        RequestParser parser;
        error_code ec;
        const std::string bytes = head + "3\r\nabc\r\n0\r\n" + trailer + "\r\n\r\n";
        char body[16];
        parser.get().body().data = body;
        parser.get().body().size = sizeof body;
        parser.eager(true);
        std::size_t used = 0;
        while (!ec && !parser.is_done() && used < bytes.size())
            used += parser.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
        if (trailer.starts_with("X-Checksum")) {
            EXPECT_FALSE(ec) << ec.message();
            EXPECT_TRUE(parser.is_done());
        } else {
            EXPECT_TRUE(ec) << trailer << " was accepted in a trailer";  // Beast's own or ours
        }
        EXPECT_EQ(parser.get().count("X-Checksum") + parser.get().count("X-Forwarded-For"), 0u) << trailer;
        EXPECT_EQ(parser.get().count(http::field::content_length), 0u) << trailer;
    }
}

}  // namespace
}  // namespace hotgate::http1

// HTTP/1.1 building blocks of TestUpstream (test_upstream.cpp): query parsing, streaming body
// reads and canned replies over a plain TCP socket.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

namespace hotgate::test::upstream_io {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

// Value of `key` in a query string "a=1&b=2", if present.
std::optional<std::string_view> queryParam(std::string_view query, std::string_view key);
// Numeric value of `key`, or `fallback` when absent or not a number.
long queryValue(std::string_view query, std::string_view key, long fallback);

// Reads the rest of the request body in pieces, handing each to sink(data, size).
template <class Sink>
boost::asio::awaitable<boost::system::error_code> readBody(boost::asio::ip::tcp::socket& socket,
                                                           boost::beast::flat_buffer& buffer, RequestParser& parser,
                                                           Sink sink) {
    namespace http = boost::beast::http;
    using boost::asio::redirect_error;
    using boost::asio::use_awaitable;
    std::vector<char> piece(64 * 1024);
    while (!parser.is_done()) {
        parser.get().body().data = piece.data();
        parser.get().body().size = piece.size();
        boost::system::error_code ec;
        co_await http::async_read(socket, buffer, parser, redirect_error(use_awaitable, ec));
        if (ec == http::error::need_buffer) ec = {};
        if (ec) co_return ec;
        std::size_t n = piece.size() - parser.get().body().size;
        if (n > 0) sink(piece.data(), n);
    }
    co_return boost::system::error_code{};
}

// Writes one response with a Content-Length body (no body for 1xx, 204 and 304).
boost::asio::awaitable<boost::system::error_code> respond(boost::asio::ip::tcp::socket& socket, unsigned status,
                                                          std::string body, bool keep_alive,
                                                          std::string_view content_type = "text/plain");

// Writes a chunked 200 of `n` chunks of `size` bytes; chunk i is size x ('a' + i % 26).
boost::asio::awaitable<boost::system::error_code> respondChunked(boost::asio::ip::tcp::socket& socket, long n,
                                                                 long size, bool keep_alive);

}  // namespace hotgate::test::upstream_io

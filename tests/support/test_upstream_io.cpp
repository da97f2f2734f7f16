#include "support/test_upstream_io.h"

#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

namespace hotgate::test::upstream_io {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;

std::optional<std::string_view> queryParam(std::string_view query, std::string_view key) {
    while (!query.empty()) {
        auto amp = query.find('&');
        auto pair = query.substr(0, amp);
        auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == key) return pair.substr(eq + 1);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

long queryValue(std::string_view query, std::string_view key, long fallback) {
    auto value = queryParam(query, key);
    if (!value) return fallback;
    try {
        return std::stol(std::string(*value));
    } catch (...) {
        return fallback;
    }
}

awaitable<error_code> respond(tcp::socket& socket, unsigned status, std::string body, bool keep_alive,
                              std::string_view content_type) {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "hotgate-test-upstream");
    res.set(http::field::content_type, content_type);
    bool bodyless = status < 200 || status == 204 || status == 304;
    if (!bodyless) res.body() = std::move(body);
    res.keep_alive(keep_alive);
    if (!bodyless) res.prepare_payload();
    error_code ec;
    co_await http::async_write(socket, res, redirect_error(use_awaitable, ec));
    co_return ec;
}

awaitable<error_code> respondChunked(tcp::socket& socket, long n, long size, bool keep_alive) {
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::server, "hotgate-test-upstream");
    res.set(http::field::content_type, "application/octet-stream");
    res.chunked(true);
    res.keep_alive(keep_alive);
    error_code ec;
    http::response_serializer<http::empty_body> serializer{res};
    co_await http::async_write_header(socket, serializer, redirect_error(use_awaitable, ec));
    for (long i = 0; i < n && !ec; ++i) {
        std::string piece(static_cast<std::size_t>(size), static_cast<char>('a' + i % 26));
        co_await asio::async_write(socket, http::make_chunk(asio::buffer(piece)), redirect_error(use_awaitable, ec));
    }
    if (!ec) co_await asio::async_write(socket, http::make_chunk_last(), redirect_error(use_awaitable, ec));
    co_return ec;
}

}  // namespace hotgate::test::upstream_io

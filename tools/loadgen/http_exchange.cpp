#include "http_exchange.h"

namespace hotgate::loadgen {

std::string buildRequest(const std::string& host, const std::string& path, bool keep_alive) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: hotgate-loadgen\r\n";
    if (!keep_alive) request += "Connection: close\r\n";
    request += "\r\n";
    return request;
}

awaitable<ExchangeResult> exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer, const std::string& request) {
    ExchangeResult result;
    co_await asio::async_write(stream, asio::buffer(request), withError(result.ec));
    if (result.ec) {
        result.step = "write";
        co_return result;
    }
    // The body is only counted, never kept: a large response must not cost memory per request.
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(64ull << 20);
    co_await http::async_read_header(stream, buffer, parser, withError(result.ec));
    if (result.ec) {
        result.step = "read header";
        co_return result;
    }
    char sink[4096];  // lives in the coroutine frame: kept small, thousands may be in flight
    while (!parser.is_done()) {
        parser.get().body().data = sink;
        parser.get().body().size = sizeof(sink);
        co_await http::async_read(stream, buffer, parser, withError(result.ec));
        if (result.ec == http::error::need_buffer) result.ec = {};
        if (result.ec) {
            result.step = "read body";
            co_return result;
        }
    }
    const auto& response = parser.get();
    result.status = response.result_int();
    result.keep_alive = response.keep_alive();
    result.complete = true;
    result.version = std::string(versionOf(response));
    co_return result;
}

std::string describe(const char* step, const error_code& ec) { return std::string(step) + ": " + ec.message(); }

}  // namespace hotgate::loadgen

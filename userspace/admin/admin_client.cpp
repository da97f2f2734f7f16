#include "admin/admin_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace hotgate {

Result<AdminResponse> adminGet(const std::string& address, const std::string& target) {
    namespace asio = boost::asio;
    namespace beast = boost::beast;
    namespace http = beast::http;
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) return fail("bad admin address '", address, "' (expected host:port)");
    const std::string host = address.substr(0, colon);
    const std::string port = address.substr(colon + 1);

    asio::io_context io;
    boost::system::error_code ec;
    auto endpoints = asio::ip::tcp::resolver(io).resolve(host, port, ec);
    if (ec) return fail("bad admin address '", address, "': ", ec.message());

    // Async operations so that tcp_stream's 5 s timeout bounds every step.
    beast::tcp_stream stream(io);
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, address);
    request.keep_alive(false);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    std::string step = "connect";
    stream.expires_after(std::chrono::seconds(5));
    stream.async_connect(endpoints, [&](boost::system::error_code e, const auto&) {
        if ((ec = e)) return;
        step = "send request";
        http::async_write(stream, request, [&](boost::system::error_code e, std::size_t) {
            if ((ec = e)) return;
            step = "read response";
            http::async_read(stream, buffer, response, [&](boost::system::error_code e, std::size_t) { ec = e; });
        });
    });
    io.run();
    if (ec && step == "connect")
        return fail("cannot reach hotgate admin at ", address, ": ", ec.message(), " (is hotgate running?)");
    if (ec) return fail("admin ", address, " ", target, ": ", step, ": ", ec.message());
    return AdminResponse{response.result_int(), response.body()};
}

}  // namespace hotgate

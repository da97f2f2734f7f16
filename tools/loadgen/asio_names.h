// The Asio/Beast names loadgen uses, in one place: coroutines with error codes redirected, never
// exceptions per request (Boost 1.74 has no as_tuple or cancel_after).
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace hotgate::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;
using boost::asio::awaitable;
using boost::system::error_code;

// Completion token: resume the coroutine, store the error in `ec` instead of throwing.
inline auto withError(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

}  // namespace hotgate::loadgen

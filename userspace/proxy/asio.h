// The Asio/Beast names the proxy uses, in one place. Coroutines (C++20) with error codes
// redirected, never exceptions, on the data path: Boost 1.74 has no as_tuple or cancel_after.
#pragma once

#include <utility>  // Boost 1.74 awaitable.hpp uses std::exchange without including it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace hotgate {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using boost::asio::awaitable;
using boost::system::error_code;

// Completion token: resume the coroutine, store the error in `ec` instead of throwing.
inline auto withError(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

}  // namespace hotgate

// `co_return co_await EXPR;` in the one form GCC 12 compiles correctly: the result is named
// before it is returned. Written out, GCC 12 destroyed temporaries of EXPR twice (a double free
// seen here). The only place this workaround is spelled out.
#define HOTGATE_CO_RETURN_AWAIT(...)               \
    do {                                           \
        auto hotgate_result_ = co_await __VA_ARGS__; \
        co_return hotgate_result_;                 \
    } while (false)

namespace hotgate {

}  // namespace hotgate

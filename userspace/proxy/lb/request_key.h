// The balancing key of a request for a hashing cluster (lb.hash_key): a header's value, a
// cookie's value, the client's address or the path without its query.
#pragma once

#include <optional>
#include <string_view>

#include "config/config.h"
#include "proxy/asio.h"

namespace hotgate::lb {

// The key's bytes, or nullopt when the request has none (no such header or cookie): such a
// request is sent round robin. A header given more than once: its first value.
std::optional<std::string_view> requestKey(const HashKeySource& source, const http::request_header<>& request,
                                           std::string_view client_ip);

// The value of cookie `name` in a Cookie field value ("a=1; b=2"), or nullopt.
std::optional<std::string_view> cookieValue(std::string_view cookie_header, std::string_view name);

}  // namespace hotgate::lb

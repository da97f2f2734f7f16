// AccessRecord: what the access log says of one answered request, as the connection knows it
// when the answer ends. Views into the connection's state, valid only while the line is made.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hotgate {

struct AccessRecord {
    std::chrono::system_clock::time_point time;  // when the answer ended
    std::string_view client_ip;
    std::string_view method;  // empty: the request head did not parse
    std::string_view path;
    unsigned http_version = 11;  // 10, 11 or 20 (a stream of an HTTP/2 connection)
    std::string_view host;
    unsigned status = 0;  // 0: the client was never answered
    std::uint64_t bytes_sent = 0;
    std::chrono::nanoseconds duration{};
    std::string_view route;     // empty: none matched
    std::string_view cluster;   // empty: answered by the gateway itself
    std::string_view upstream;  // the last try's endpoint; empty: none was reached
    std::optional<std::chrono::nanoseconds> upstream_time;  // the last try's, to the response head
    unsigned attempts = 0;
    std::string_view version;
    std::string_view request_id;
    std::string_view traceparent;
    std::string_view tls_version;  // empty: plain TCP
    std::string_view sni;
    std::string_view user_agent;
    std::string_view referer;
};

}  // namespace hotgate

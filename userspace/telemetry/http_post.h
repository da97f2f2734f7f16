// HttpPost: the exporter's HTTP/1.1 client. One POST per connection ("Connection: close"),
// plain http only, bounded by a deadline, and abortable from another thread so that a hung
// collector never holds up shutdown.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "telemetry/http_endpoint.h"

namespace hotgate::telemetry {


// How a POST ended.
enum class PostFailure {
    None,     // a response came back: see PostOutcome::status
    Resolve,  // the host name did not resolve
    Connect,  // refused, unreachable
    Send,     // the connection broke while sending
    Receive,  // ... while reading the response, or the response was malformed
    Timeout,  // the deadline passed first
    Aborted,  // abort() was called
};

struct PostOutcome {
    PostFailure failure = PostFailure::None;
    unsigned status = 0;                              // with PostFailure::None
    std::optional<std::chrono::seconds> retry_after;  // a Retry-After in delay-seconds form
    std::string error;                                // "POST <url>: connect: Connection refused"
};

// The delay-seconds form of a Retry-After value ("120"); nullopt for the HTTP-date form or
// anything else.
std::optional<std::chrono::seconds> parseRetryAfterSeconds(std::string_view value);

class HttpPost {
public:
    explicit HttpPost(HttpEndpoint endpoint);
    HttpPost(const HttpPost&) = delete;
    HttpPost& operator=(const HttpPost&) = delete;

    // Sends `body` and reads the response, all before `deadline`. Blocking; one thread at a
    // time. Returns PostFailure::Aborted at once after abort().
    PostOutcome post(const std::string& body, std::string_view content_type,
                     std::chrono::steady_clock::time_point deadline);

    // From any thread: the post() in progress returns Aborted now, and so does every later one.
    void abort();

    const HttpEndpoint& endpoint() const { return endpoint_; }

private:
    HttpEndpoint endpoint_;
    boost::asio::io_context io_;
    std::mutex abort_mutex_;  // orders abort() against post() restarting io_
    bool aborted_ = false;
};

}  // namespace hotgate::telemetry

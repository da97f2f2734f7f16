#include "telemetry/http_post.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

namespace hotgate::telemetry {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// A collector's answer is a short status message; more is not read.
constexpr std::uint64_t kResponseBodyLimit = 64 * 1024;


}  // namespace


std::optional<std::chrono::seconds> parseRetryAfterSeconds(std::string_view value) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    std::uint32_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return std::chrono::seconds(seconds);
}

HttpPost::HttpPost(HttpEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

void HttpPost::abort() {
    std::lock_guard lock(abort_mutex_);
    aborted_ = true;
    io_.stop();
}

PostOutcome HttpPost::post(const std::string& body, std::string_view content_type,
                           std::chrono::steady_clock::time_point deadline) {
    const std::string prefix = "POST " + endpoint_.url + ": ";
    {
        std::lock_guard lock(abort_mutex_);
        if (aborted_) return PostOutcome{PostFailure::Aborted, 0, std::nullopt, prefix + "aborted"};
        io_.restart();
    }

    tcp::resolver resolver(io_);
    tcp::socket socket(io_);
    asio::steady_timer timer(io_, deadline);
    http::request<http::string_body> request{http::verb::post, endpoint_.target, 11};
    const bool ipv6_literal = endpoint_.host.find(':') != std::string::npos;
    request.set(http::field::host, (ipv6_literal ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" + endpoint_.port);
    request.set(http::field::content_type, content_type);
    request.set(http::field::user_agent, "hotgate-otlp-exporter");
    request.keep_alive(false);
    request.body() = body;
    request.prepare_payload();
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kResponseBodyLimit);

    PostFailure failure = PostFailure::None;
    boost::system::error_code error;
    bool timed_out = false;
    bool finished = false;
    // Ends the exchange once: records the failure (if any) and cancels whatever else is pending.
    auto finish = [&](PostFailure step, boost::system::error_code ec) {
        if (finished) return;
        finished = true;
        failure = timed_out ? PostFailure::Timeout : (ec ? step : PostFailure::None);
        error = ec;
        timer.cancel();
        resolver.cancel();
        boost::system::error_code ignored;
        socket.close(ignored);
    };
    timer.async_wait([&](boost::system::error_code ec) {
        if (ec || finished) return;
        timed_out = true;
        finish(PostFailure::Timeout, asio::error::timed_out);
    });
    resolver.async_resolve(
        endpoint_.host, endpoint_.port, [&](boost::system::error_code ec, const tcp::resolver::results_type& results) {
            if (ec || finished) return finish(PostFailure::Resolve, ec);
            asio::async_connect(socket, results, [&](boost::system::error_code ec, const tcp::endpoint&) {
                if (ec || finished) return finish(PostFailure::Connect, ec);
                http::async_write(socket, request, [&](boost::system::error_code ec, std::size_t) {
                    if (ec || finished) return finish(PostFailure::Send, ec);
                    http::async_read(socket, buffer, parser, [&](boost::system::error_code ec, std::size_t) {
                        finish(PostFailure::Receive, ec);
                    });
                });
            });
        });
    io_.run();

    // Only abort() stops io_ before the exchange finished. Handlers still queued then reference
    // this frame's locals, which is safe only because no later post() runs io_ again.
    if (!finished) return PostOutcome{PostFailure::Aborted, 0, std::nullopt, prefix + "aborted"};
    static constexpr const char* kStep[] = {"", "resolve", "connect", "send", "receive response", "timeout", "abort"};
    if (failure != PostFailure::None) {
        const char* step = kStep[static_cast<int>(failure)];
        const std::string reason =
            failure == PostFailure::Timeout ? "no response before the deadline" : error.message();
        return PostOutcome{failure, 0, std::nullopt, prefix + step + ": " + reason};
    }
    const auto& response = parser.get();
    PostOutcome outcome{PostFailure::None, response.result_int(), std::nullopt, {}};
    if (const auto it = response.find(http::field::retry_after); it != response.end())
        outcome.retry_after = parseRetryAfterSeconds(it->value());
    if (outcome.status / 100 != 2) {
        std::string snippet = response.body().substr(0, 200);
        outcome.error = prefix + "HTTP " + std::to_string(outcome.status) + (snippet.empty() ? "" : ": " + snippet);
    }
    return outcome;
}

}  // namespace hotgate::telemetry

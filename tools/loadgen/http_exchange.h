// One HTTP/1.1 request/response exchange on an open stream, shared by the new-connection and
// keep-alive traffic: the prebuilt request bytes, the response read with Beast's parser, the
// serving version and, on failure, the outcome and the step that failed.
#pragma once

#include <string>

#include "asio_names.h"
#include "outcome.h"

namespace hotgate::loadgen {

// The response header naming the gateway version that served it.
inline constexpr char kVersionHeader[] = "x-hotgate-version";

// The x-hotgate-version value of a response or 101, empty when absent.
template <typename Fields>
std::string_view versionOf(const Fields& fields) {
    const auto it = fields.find(kVersionHeader);
    if (it == fields.end()) return {};
    return {it->value().data(), it->value().size()};
}

// "GET <path> HTTP/1.1" with Host and, when `keep_alive` is false, "Connection: close".
std::string buildRequest(const std::string& host, const std::string& path, bool keep_alive);

struct ExchangeResult {
    error_code ec;              // set when no complete response arrived
    const char* step = "";      // "write" or "read" when ec is set
    unsigned status = 0;
    bool keep_alive = false;    // the response allows another request on this connection
    bool complete = false;      // a whole response was read
    std::string version;        // x-hotgate-version, empty when absent

    // The outcome of a complete response: ok for 2xx, bad_status otherwise.
    Outcome responseOutcome() const { return status >= 200 && status < 300 ? Outcome::kOk : Outcome::kBadStatus; }
};

// Writes `request` and reads one whole response (body discarded, at most 64 MiB). The caller
// arms the stream's expiry: a timeout ends the exchange with beast::error::timeout.
awaitable<ExchangeResult> exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                   const std::string& request);

// "<step>: <message>" for the failure details.
std::string describe(const char* step, const error_code& ec);

}  // namespace hotgate::loadgen

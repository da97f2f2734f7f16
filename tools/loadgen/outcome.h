// Outcome and TrafficKind: what loadgen counts (every request, message or stream ends in exactly
// one outcome) and for which of its three kinds of traffic; plus the error_code classifier.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/system/error_code.hpp>

namespace hotgate::loadgen {

enum class TrafficKind : std::size_t {
    kNewConnection = 0,  // --rate: one connection per request, Connection: close
    kKeepalive,          // --keepalive: persistent connections
    kStream,             // --streams: long-lived WebSockets, one outcome per echoed message
};
inline constexpr std::size_t kTrafficKinds = 3;

enum class Outcome : std::size_t {
    kOk = 0,
    kRefused,         // connect() got ECONNREFUSED
    kReset,           // ECONNRESET / EPIPE / ECONNABORTED on a request in flight
    kTimeout,         // no complete response within --timeout-ms
    kShortRead,       // the peer closed cleanly before the response was complete
    kBadStatus,       // a complete response that is not 2xx (or not 101 on an upgrade)
    kStreamBroken,    // a WebSocket closed or failed before the run ended
    kStreamMismatch,  // an echoed WebSocket message differs from what was sent, or came out of order
    kSkipped,         // the client itself could not start a scheduled request on time
    kOther,           // anything else (parse error, EADDRNOTAVAIL, ...): see the "errors" details
};
inline constexpr std::size_t kOutcomes = 10;

template <typename T>
using PerKind = std::array<T, kTrafficKinds>;
using OutcomeCounts = std::array<std::uint64_t, kOutcomes>;

// JSON/log names: "new_connection", "keepalive", "stream".
std::string_view kindName(TrafficKind kind);
// JSON/log names: "ok", "refused", ..., "other".
std::string_view outcomeName(Outcome outcome);

inline TrafficKind kindAt(std::size_t i) { return static_cast<TrafficKind>(i); }
inline Outcome outcomeAt(std::size_t i) { return static_cast<Outcome>(i); }
inline std::size_t index(TrafficKind kind) { return static_cast<std::size_t>(kind); }
inline std::size_t index(Outcome outcome) { return static_cast<std::size_t>(outcome); }

// Maps a failed socket or HTTP step to its outcome: refused, reset, timeout (Beast's or an
// aborted operation after our deadline fired), short_read (EOF / partial message), else other.
// `timed_out` is true when our own deadline cancelled the operation.
Outcome classify(const boost::system::error_code& ec, bool timed_out);

}  // namespace hotgate::loadgen

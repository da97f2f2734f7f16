#include "outcome.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/error.hpp>

namespace hotgate::loadgen {

std::string_view kindName(TrafficKind kind) {
    switch (kind) {
    case TrafficKind::kNewConnection: return "new_connection";
    case TrafficKind::kKeepalive: return "keepalive";
    case TrafficKind::kStream: return "stream";
    }
    return "?";
}

std::string_view outcomeName(Outcome outcome) {
    switch (outcome) {
    case Outcome::kOk: return "ok";
    case Outcome::kRefused: return "refused";
    case Outcome::kReset: return "reset";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kShortRead: return "short_read";
    case Outcome::kBadStatus: return "bad_status";
    case Outcome::kStreamBroken: return "stream_broken";
    case Outcome::kStreamMismatch: return "stream_mismatch";
    case Outcome::kSkipped: return "skipped";
    case Outcome::kOther: return "other";
    }
    return "?";
}

Outcome classify(const boost::system::error_code& ec, bool timed_out) {
    namespace error = boost::asio::error;
    namespace beast = boost::beast;
    // Our deadline cancels the socket, so the pending step ends with operation_aborted.
    if (timed_out || ec == beast::error::timeout) return Outcome::kTimeout;
    if (ec == error::connection_refused) return Outcome::kRefused;
    if (ec == error::connection_reset || ec == error::broken_pipe || ec == error::connection_aborted)
        return Outcome::kReset;
    if (ec == error::eof || ec == beast::http::error::end_of_stream ||
        ec == beast::http::error::partial_message)
        return Outcome::kShortRead;
    return Outcome::kOther;
}

}  // namespace hotgate::loadgen

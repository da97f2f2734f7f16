// timeouts: how long each step of a request, and a drain, may take.
#include "config/schema/tables.h"

namespace hotgate::schema {

Table<Timeouts> timeoutsTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"header_read", &Timeouts::header_read, Duration{}, "10s", InPlace,
         "the whole request header must arrive within this, else 408"},
        {"body_read", &Timeouts::body_read, Duration{}, Default::addedLater("60s"), InPlace,
         "a request body with no byte for this long is answered 408"},
        {"send", &Timeouts::send, Duration{}, Default::addedLater("60s"), InPlace,
         "a client that reads nothing of a response for this long is dropped (the upstream connection too)"},
        {"idle", &Timeouts::idle, Duration{}, "60s", InPlace,
         "a keep-alive connection with no request is closed after this"},
        {"upstream_connect", &Timeouts::upstream_connect, Duration{}, "2s", InPlace,
         "connecting to an endpoint, else 504"},
        {"upstream_response", &Timeouts::upstream_response, Duration{}, "30s", InPlace,
         "until the upstream's response header, else 504"},
        {"drain", &Timeouts::drain, Duration{}, "15s", InPlace,
         "on SIGTERM, in-flight requests get this long to finish"},
    }};
}

}  // namespace hotgate::schema

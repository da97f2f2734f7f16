// limits: what one request or one process may take.
#include "config/schema/tables.h"

namespace hotgate::schema {

Table<Limits> limitsTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"max_header_bytes", &Limits::max_header_bytes, Size{512}, "16k", InPlace,
         "request line and headers; larger gets 431"},
        {"max_body_bytes", &Limits::max_body_bytes, Size{0}, "10MB", InPlace, "request body; larger gets 413"},
        {"max_connections", &Limits::max_connections, Integer{1, 10'000'000}, "10000", InPlace,
         "client connections per process; beyond it new connections get 503 and are closed"},
        {"rate_limit_buckets", &Limits::rate_limit_buckets, Integer{64, 1u << 24}, Default::addedLater("65536"),
         NewVersion,
         "slots of the token bucket table every route's rate_limit shares; when full, the bucket refilled "
         "longest ago is taken over (counted). A new version with another size starts with empty buckets"},
    }};
}

}  // namespace hotgate::schema

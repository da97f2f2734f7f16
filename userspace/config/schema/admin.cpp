// admin: the HTTP endpoint of /metrics, /healthz, /status and /dashboard.
#include "config/schema/tables.h"

namespace hotgate::schema {

Table<AdminConfig> adminTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"address", &AdminConfig::address, Address{}, "127.0.0.1:9901", NewVersion,
         "where /metrics, /healthz, /status and /dashboard answer"},
    }};
}

}  // namespace hotgate::schema

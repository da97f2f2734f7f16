// tls: process-wide TLS settings (a listener's certificates are under listeners[].tls).
#include "config/schema/tables.h"

namespace hotgate::schema {

Table<TlsConfig> tlsTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"session_ticket_keys", &TlsConfig::session_ticket_keys, ConfigFile{}, kEmpty, InPlace,
         "session ticket keys, one base64 80-byte key a line, the first encrypts (`openssl rand 80 | base64 -w0`); "
         "none: a random key made at first start and handed to each next version"},
    }};
}

}  // namespace hotgate::schema

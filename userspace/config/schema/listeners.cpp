// listeners[]: the addresses the gateway serves, each a named group of per-worker
// SO_REUSEPORT sockets, optionally terminating TLS.
#include "config/schema/tables.h"

namespace hotgate::schema {
namespace {

constexpr std::string_view kNeedsCertificate = "a TLS listener needs at least one certificate";

Table<TlsCertificateConfig> certificateTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"certificate_file", &TlsCertificateConfig::certificate_file, ConfigFile{}, kRequired, InPlace,
         "PEM: the leaf certificate, then its intermediates"},
        {"key_file", &TlsCertificateConfig::key_file, ConfigFile{}, kRequired, InPlace, "PEM private key"},
        {"sni", &TlsCertificateConfig::sni,
         SetOf<HostName>{.noun = "name", .duplicates = Duplicates::Merged, .sorted = true}, kEmpty, InPlace,
         "the names it serves; none: the certificate's own names"},
    }};
}

Table<ListenerTlsConfig> listenerTlsTable() {
    return {{
        list("certificates", &ListenerTlsConfig::certificates, certificateTable(),
             Default::required(kNeedsCertificate), kNeedsCertificate,
             "chosen by SNI; the first is the default for clients without SNI or with an unknown name. "
             "Replacing the files reloads them (so does gwctl certs reload)"),
    }};
}

}  // namespace

Table<ListenerConfig> listenerTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"address", &ListenerConfig::address, Address{}, kRequired, NewVersion,
         "where the listener's sockets bind; no two listeners share one"},
        {"trusted_proxies", &ListenerConfig::trusted_proxies,
         SetOf<IpRange>{.noun = "range", .duplicates = Duplicates::Merged, .sorted = true}, kEmpty, InPlace,
         "peers whose X-Forwarded-For/-Proto/-Host and Forwarded are appended to (For) or kept instead of "
         "replaced: the load balancers in front of hotgate (docs/framing.md)"},
        optionalBlock("tls", &ListenerConfig::tls, listenerTlsTable(),
                      "terminate TLS; certificates change in place, turning TLS on or off takes a new version "
                      "(gwctl upgrade)"),
    }};
}

}  // namespace hotgate::schema

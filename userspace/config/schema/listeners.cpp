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

Table<Http2Config> http2Table() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"max_concurrent_streams", &Http2Config::max_concurrent_streams, Integer{1, 10000}, Default::addedLater("256"),
         InPlace, "streams a client may have open at once on a connection; more are refused (REFUSED_STREAM)"},
        {"initial_stream_window", &Http2Config::initial_stream_window, Size{.min = 1024, .max = 2147483647},
         Default::addedLater("1MB"), InPlace,
         "request body bytes a client may send on a stream before hotgate has passed them on"},
        {"max_header_list", &Http2Config::max_header_list, Size{.min = 1024, .max = 16 * 1024 * 1024},
         Default::addedLater("64k"), InPlace,
         "a request's decoded header list (names, values and 32 bytes a field) at most; larger: 431"},
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
        {"protocols", &ListenerConfig::protocols,
         ListOf<Choice<HttpProtocol>>{.members = {.item = {{{"h2", HttpProtocol::H2}, {"http1", HttpProtocol::Http1}}},
                                                  .noun = "protocol",
                                                  .duplicates = Duplicates::Refused,
                                                  .at_least_one = true}},
         Default::addedLater("[http1]"), NewVersion,
         "the HTTP versions served, in preference order (TLS: the ALPN order); on a plaintext listener h2 "
         "is by prior knowledge (a connection that opens with the HTTP/2 preface), Upgrade: h2c is refused "
         "(docs/http2.md)"},
        block("http2", &ListenerConfig::http2, http2Table(), kEmpty, "HTTP/2 settings, for listeners that speak h2"),
        optionalBlock("tls", &ListenerConfig::tls, listenerTlsTable(),
                      "terminate TLS; certificates change in place, turning TLS on or off takes a new version "
                      "(gwctl upgrade)"),
    }};
}

}  // namespace hotgate::schema

// clusters[]: the upstream groups routes proxy to.
#include "config/schema/tables.h"

namespace hotgate::schema {
namespace {

Table<ClusterTlsConfig> clusterTlsTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"ca_file", &ClusterTlsConfig::ca_file, ConfigFile{}, kEmpty, InPlace,
         "PEM CAs to verify the endpoints against; none: the system's CAs"},
        {"sni", &ClusterTlsConfig::sni, HostName{}, kEmpty, InPlace,
         "server name sent, and required in the endpoint's certificate; none: none sent"},
        {"verify", &ClusterTlsConfig::verify, Boolean{}, "true", InPlace,
         "false: encrypt without checking who answers (tests and migrations only)"},
    }};
}

}  // namespace

Table<ClusterConfig> clusterTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"endpoints", &ClusterConfig::endpoints,
         SetOf<Address>{.noun = "endpoint", .duplicates = Duplicates::Refused, .sorted = true, .at_least_one = true},
         kRequired, InPlace, "the upstream addresses, taken in turn"},
        {"max_idle_per_endpoint", &ClusterConfig::max_idle_per_endpoint, Integer{0, 100'000}, "64", InPlace,
         "pooled idle upstream connections per endpoint per worker"},
        optionalBlock("tls", &ClusterConfig::tls, clusterTlsTable(), "TLS to the endpoints"),
    }};
}

}  // namespace hotgate::schema

// config_source: the fleet's shared config in etcd (docs/fleet.md). It belongs to the host's
// own file (never to the etcd document), and is read at start: its keys need a new version.
#include "config/schema/tables.h"
#include "telemetry/http_endpoint.h"

namespace hotgate::schema {
namespace {

void checkEtcd(Reader& reader, const YAML::Node& map, const std::string& path, const EtcdSourceConfig& etcd) {
    const std::string scheme = etcd.tls ? "https://" : "http://";
    for (std::size_t i = 0; i < etcd.endpoints.size(); ++i) {
        const std::string key = Reader::join(path, "endpoints") + "[" + std::to_string(i) + "]";
        const std::string& url = etcd.endpoints[i];
        if (!url.starts_with(scheme)) {
            reader.problem(map, key,
                           etcd.tls ? "with tls, an etcd endpoint is https://host:port, got \"" + url + "\""
                                    : "an etcd endpoint is http://host:port (https:// needs config_source.etcd.tls), "
                                      "got \"" + url + "\"");
            continue;
        }
        if (auto endpoint = telemetry::parseHttpEndpoint("http://" + url.substr(scheme.size())); !endpoint)
            reader.problem(map, key, endpoint.error().message);
        else if (endpoint->target != "/")
            reader.problem(map, key, "an etcd endpoint is scheme, host and port only, got path " + endpoint->target);
    }
    if (etcd.prefix.size() < 2 || etcd.prefix.front() != '/' || etcd.prefix.back() == '/')
        reader.problem(map, Reader::join(path, "prefix"),
                       "must start with / and not end with one (\"/hotgate/prod\"), got \"" + etcd.prefix + "\"");
    if (etcd.tls && etcd.tls->cert_file.empty() != etcd.tls->key_file.empty())
        reader.problem(map, Reader::join(path, "tls"), "cert_file and key_file go together: give both or neither");
}

Table<EtcdTlsConfig> etcdTlsTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"ca_file", &EtcdTlsConfig::ca_file, AbsolutePath{}, kRequired, NewVersion,
         "PEM CAs the members' certificates are verified against (their IP address or name in the URL)"},
        {"cert_file", &EtcdTlsConfig::cert_file, AbsolutePath{}, kEmpty, NewVersion,
         "PEM client certificate (chain), for members that require one (--client-cert-auth); with key_file"},
        {"key_file", &EtcdTlsConfig::key_file, AbsolutePath{}, kEmpty, NewVersion, "cert_file's private key"},
    }};
}

Table<EtcdSourceConfig> etcdTable() {
    using enum Applies;
    Table<EtcdSourceConfig> table{{
        // key, member, type and bounds, default, applies, doc
        {"endpoints", &EtcdSourceConfig::endpoints,
         ListOf<Text>{.members = {.noun = "endpoint", .duplicates = Duplicates::Refused, .at_least_one = true}},
         kRequired, NewVersion, "etcd client URLs (http://host:port, https:// with tls), tried in order"},
        {"prefix", &EtcdSourceConfig::prefix, Text{}, kRequired, NewVersion,
         "<prefix>/config holds the fleet's YAML, <prefix>/hosts/<host_id> each host's status"},
        {"host_id", &EtcdSourceConfig::host_id, Text{}, kUnset, NewVersion, "this host's name in the fleet; "
         "empty: the host name"},
        {"last_good", &EtcdSourceConfig::last_good, AbsolutePath{}, kRequired, NewVersion,
         "every applied config is written here (0600); served at start when etcd cannot be reached"},
        optionalBlock("tls", &EtcdSourceConfig::tls, etcdTlsTable(),
                      "TLS to the members (endpoints are https://); absent: plain HTTP"),
    }};
    table.checks.push_back(checkEtcd);
    return table;
}

}  // namespace

Table<ConfigSourceConfig> configSourceTable() {
    return {{
        optionalBlock("etcd", &ConfigSourceConfig::etcd, etcdTable(),
                      "etcd v3 (http): the fleet's config and host status (docs/fleet.md); absent: this file alone"),
    }};
}

}  // namespace hotgate::schema

// config_source: the fleet's shared config in etcd (docs/fleet.md). It belongs to the host's
// own file (never to the etcd document), and is read at start: its keys need a new version.
#include "config/schema/tables.h"
#include "telemetry/http_endpoint.h"

namespace hotgate::schema {
namespace {

void checkEtcd(Reader& reader, const YAML::Node& map, const std::string& path, const EtcdSourceConfig& etcd) {
    for (std::size_t i = 0; i < etcd.endpoints.size(); ++i)
        if (auto endpoint = telemetry::parseHttpEndpoint(etcd.endpoints[i]); !endpoint)
            reader.problem(map, Reader::join(path, "endpoints") + "[" + std::to_string(i) + "]",
                           endpoint.error().message);
        else if (endpoint->target != "/")
            reader.problem(map, Reader::join(path, "endpoints") + "[" + std::to_string(i) + "]",
                           "an etcd endpoint is scheme, host and port only, got path " + endpoint->target);
    if (etcd.prefix.size() < 2 || etcd.prefix.front() != '/' || etcd.prefix.back() == '/')
        reader.problem(map, Reader::join(path, "prefix"),
                       "must start with / and not end with one (\"/hotgate/prod\"), got \"" + etcd.prefix + "\"");
}

Table<EtcdSourceConfig> etcdTable() {
    using enum Applies;
    Table<EtcdSourceConfig> table{{
        // key, member, type and bounds, default, applies, doc
        {"endpoints", &EtcdSourceConfig::endpoints,
         ListOf<Text>{.members = {.noun = "endpoint", .duplicates = Duplicates::Refused, .at_least_one = true}},
         kRequired, NewVersion, "etcd client URLs (http://host:port), tried in order"},
        {"prefix", &EtcdSourceConfig::prefix, Text{}, kRequired, NewVersion,
         "<prefix>/config holds the fleet's YAML, <prefix>/hosts/<host_id> each host's status"},
        {"host_id", &EtcdSourceConfig::host_id, Text{}, kUnset, NewVersion, "this host's name in the fleet; "
         "empty: the host name"},
        {"last_good", &EtcdSourceConfig::last_good, AbsolutePath{}, kRequired, NewVersion,
         "every applied config is written here (0600); served at start when etcd cannot be reached"},
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

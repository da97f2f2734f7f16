// The config a fleet host serves (docs/fleet.md): its own file (what belongs to the host:
// listeners, admin, dataplane, workers, config_source) and the fleet's document from etcd
// (everything else), as one YAML text with one hash, validated like any file. A key set in
// both is an error naming both places. The merged text is self-describing: the host's part,
// a marker line, then etcd's, so a process started on it (an upgrade's successor, or
// `last_good`) finds its own part again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/config.h"
#include "config/config_loader.h"

namespace hotgate::fleet {

// The marker's first characters; the line goes on with where the rest came from.
inline constexpr std::string_view kEtcdPartMarker = "# ---- hotgate: from etcd ";

struct MergedConfig {
    std::string text;
    int etcd_first_line = 0;  // the etcd part's first line in `text` (1-based)
};

// The host's own part of a file: all of it, or what comes before the marker of a merged one.
std::string localPart(const std::string& file_text);
// The etcd part of a merged file's text (empty when it has none).
std::string etcdPart(const std::string& file_text);

// Merges the host's `local` text (named `local_name` in errors) with etcd's `fleet` text at
// `revision` (named `fleet_name`, e.g. "etcd /hotgate/prod/config"). Fails when either is not
// a YAML mapping, a top-level key is in both, or etcd sets a key that belongs to the host.
Result<MergedConfig> mergeConfig(const std::string& local, const std::string& local_name, const std::string& fleet,
                                 const std::string& fleet_name, std::int64_t revision);

// The problems of loading `merged`, each naming the part it is in: lines of the etcd part as
// `fleet_name`:line within it.
ConfigProblems attributeProblems(ConfigProblems problems, const MergedConfig& merged, const std::string& fleet_name);

// The whole of the file at `path`; nullopt when it cannot be opened.
std::optional<std::string> readFileText(const std::string& path);

// config_source.etcd of a host's own file, read before the rest can be validated (the file
// alone has no routes); nullopt when it has none. The merged config is validated in full.
Result<std::optional<EtcdSourceConfig>> etcdSourceOf(const std::string& local_text, const std::string& local_name);

}  // namespace hotgate::fleet

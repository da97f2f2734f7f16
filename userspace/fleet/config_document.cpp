#include "fleet/config_document.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "config/schema/reader.h"
#include "config/schema/row.h"
#include "config/schema/tables.h"

namespace hotgate::fleet {
namespace {

// Top-level keys that belong to each host, never to the fleet's document.
constexpr std::array<std::string_view, 5> kHostKeys = {"workers", "admin", "dataplane", "listeners", "config_source"};

int lineCount(const std::string& text) {
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// The top-level mapping of `text`: its keys with their (1-based) lines; an empty document is
// an empty mapping.
Result<std::vector<std::pair<std::string, int>>> topLevelKeys(const std::string& text, const std::string& name) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        return fail(name, ":", e.mark.line + 1, ": not valid YAML: ", e.msg);
    }
    std::vector<std::pair<std::string, int>> keys;
    if (!root || root.IsNull()) return keys;
    if (!root.IsMap()) return fail(name, ": must be a YAML mapping of config sections");
    for (const auto& entry : root) keys.emplace_back(entry.first.as<std::string>(), entry.first.Mark().line + 1);
    return keys;
}

}  // namespace

std::optional<std::string> readFileText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string localPart(const std::string& file_text) {
    const auto marker = file_text.find(kEtcdPartMarker);
    if (marker == std::string::npos || (marker != 0 && file_text[marker - 1] != '\n')) return file_text;
    return file_text.substr(0, marker);
}

std::string etcdPart(const std::string& file_text) {
    const auto marker = file_text.find(kEtcdPartMarker);
    if (marker == std::string::npos || (marker != 0 && file_text[marker - 1] != '\n')) return {};
    const auto line_end = file_text.find('\n', marker);
    return line_end == std::string::npos ? std::string() : file_text.substr(line_end + 1);
}

Result<MergedConfig> mergeConfig(const std::string& local, const std::string& local_name, const std::string& fleet,
                                 const std::string& fleet_name, std::int64_t revision) {
    auto local_keys = topLevelKeys(local, local_name);
    if (!local_keys) return tl::unexpected(local_keys.error());
    auto fleet_keys = topLevelKeys(fleet, fleet_name);
    if (!fleet_keys) return tl::unexpected(fleet_keys.error());
    std::vector<std::string> problems;
    for (const auto& [key, line] : *fleet_keys) {
        if (std::find(kHostKeys.begin(), kHostKeys.end(), key) != kHostKeys.end())
            problems.push_back(fleet_name + ":" + std::to_string(line) + ": " + key +
                               " belongs to each host's own file, not to the fleet's config");
        for (const auto& [own, own_line] : *local_keys)
            if (own == key)
                problems.push_back(fleet_name + ":" + std::to_string(line) + ": " + key + " is set both here and in " +
                                   local_name + ":" + std::to_string(own_line) + "; a key belongs to one of them");
    }
    if (!problems.empty()) {
        std::string message = problems.front();
        for (std::size_t i = 1; i < problems.size(); ++i) message += "\n" + problems[i];
        return fail(message);
    }
    MergedConfig merged;
    merged.text = local;
    if (!merged.text.empty() && merged.text.back() != '\n') merged.text += '\n';
    // The marker says "from etcd" already: a name "etcd <key>" is not said twice.
    const std::string_view source =
        std::string_view(fleet_name).starts_with("etcd ") ? std::string_view(fleet_name).substr(5) : fleet_name;
    merged.text += std::string(kEtcdPartMarker) + std::string(source) + ", mod_revision " + std::to_string(revision) +
                   " (edit it there, not here) ----\n";
    merged.etcd_first_line = lineCount(merged.text) + 1;
    merged.text += fleet;
    if (!merged.text.empty() && merged.text.back() != '\n') merged.text += '\n';
    return merged;
}

ConfigProblems attributeProblems(ConfigProblems problems, const MergedConfig& merged, const std::string& fleet_name) {
    for (auto& problem : problems)
        if (problem.line >= merged.etcd_first_line) {
            problem.file = fleet_name;
            problem.line -= merged.etcd_first_line - 1;
        }
    return problems;
}

Result<std::optional<EtcdSourceConfig>> etcdSourceOf(const std::string& local_text, const std::string& local_name) {
    YAML::Node root;
    try {
        root = YAML::Load(localPart(local_text));
    } catch (const YAML::Exception& e) {
        return fail(local_name, ":", e.mark.line + 1, ": not valid YAML: ", e.msg);
    }
    if (!root || !root.IsMap() || !root["config_source"] || !root["config_source"]["etcd"])
        return std::optional<EtcdSourceConfig>();
    // Read by the schema's own table: the same keys, defaults and checks as the loader's.
    schema::Reader reader(local_name, root);
    ConfigSourceConfig section;
    schema::readMapping(schema::configSourceTable(), reader, root["config_source"], "config_source", section);
    if (!reader.problems.empty()) {
        std::string message;
        for (const auto& problem : reader.problems) message += (message.empty() ? "" : "\n") + problem.format();
        return fail(message);
    }
    if (!section.etcd) return std::optional<EtcdSourceConfig>();
    EtcdSourceConfig source = std::move(*section.etcd);
    if (source.host_id.empty()) {
        char name[256] = {};
        ::gethostname(name, sizeof name - 1);
        source.host_id = name;
    }
    return std::optional<EtcdSourceConfig>(std::move(source));
}

}  // namespace hotgate::fleet

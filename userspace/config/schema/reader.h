// Reading one config file's YAML: the problems found so far, each with file:line and the
// config path it concerns, and the checks every key shares (mapping, list, scalar, unknown
// keys). Exceptions from yaml-cpp never escape: every node is checked before it is converted.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/config_loader.h"

namespace hotgate::schema {

class Reader {
public:
    Reader(std::string file, const YAML::Node& root);

    ConfigProblems problems;

    // "path: message" at the node's line (no line when the node is not in the file).
    void problem(const YAML::Node& at, const std::string& path, const std::string& message);

    // A required key is missing from `parent`: "parent_path: missing required key 'key'", or
    // "parent_path.key: message" when the key has its own message. Reported at the parent's
    // line, except at the top level: a missing top-level key has no line of its own.
    void missing(const YAML::Node& parent, const std::string& parent_path, std::string_view key,
                 std::string_view message);

    // Reports keys of `map` that are not in `allowed` (typos would otherwise silently default).
    void checkKeys(const YAML::Node& map, const std::string& path, const std::vector<std::string_view>& allowed);

    bool expectMap(const YAML::Node& node, const std::string& path);
    bool expectSequence(const YAML::Node& node, const std::string& path);
    std::optional<std::string> scalar(const YAML::Node& node, const std::string& path);
    std::optional<std::string> nonEmptyString(const YAML::Node& node, const std::string& path);

    // A file named in the config: absolute as given, else relative to the config file's directory.
    std::string resolvePath(const std::string& path) const;

    // A check that needs the whole config (a route's cluster exists), run by finish().
    void afterLoad(std::function<void(Reader&, const Config&)> check);
    void finish(const Config& config);

    // `map[key]`, or an undefined node when `map` is not a mapping or has no such key.
    static YAML::Node child(const YAML::Node& map, std::string_view key);
    // "timeouts" + "idle" -> "timeouts.idle"; "" + "workers" -> "workers".
    static std::string join(const std::string& path, std::string_view key);

private:
    std::string file_;
    YAML::Node root_;
    std::vector<std::function<void(Reader&, const Config&)>> after_load_;
};

}  // namespace hotgate::schema

#include "config/config_loader.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "common/sha256.h"
#include "config/schema/reader.h"
#include "config/schema/schema.h"

namespace hotgate {

std::string ConfigProblem::format() const {
    return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

std::string formatProblems(const ConfigProblems& problems) {
    std::string out;
    for (const auto& p : problems) out += p.format() + "\n";
    return out;
}

tl::expected<ConfigSnapshot, ConfigProblems> loadConfigText(const std::string& text, const std::string& name) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        return tl::unexpected(ConfigProblems{{name, e.mark.line + 1, "YAML syntax error: " + e.msg}});
    }
    schema::Reader reader(name, root);
    auto config = std::make_shared<Config>();
    config->source_path = name;
    try {
        schema::readConfig(reader, root, *config);
    } catch (const YAML::Exception& e) {
        // Defensive: a conversion we did not pre-check. Still report it with its position.
        reader.problems.push_back({name, e.mark.line + 1, "invalid value: " + e.msg});
    }
    if (!reader.problems.empty()) return tl::unexpected(std::move(reader.problems));
    config->hash = sha256Hex(canonicalText(*config)).substr(0, 12);
    return ConfigSnapshot(std::move(config));
}

tl::expected<ConfigSnapshot, ConfigProblems> loadConfigFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) return tl::unexpected(ConfigProblems{{path, 0, std::string("cannot read file: ") + std::strerror(errno)}});
    std::stringstream text;
    text << in.rdbuf();
    // The absolute path: a successor started by gwctl from another directory reloads it.
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(path, ec);
    return loadConfigText(text.str(), ec ? path : absolute.string());
}

}  // namespace hotgate

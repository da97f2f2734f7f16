#include "config/schema/reader.h"

#include <algorithm>
#include <filesystem>

namespace hotgate::schema {

Reader::Reader(std::string file, const YAML::Node& root) : file_(std::move(file)), root_(root) {}

void Reader::problem(const YAML::Node& at, const std::string& path, const std::string& message) {
    const int line = at.IsDefined() ? at.Mark().line + 1 : 0;
    problems.push_back({file_, line, path.empty() ? message : path + ": " + message});
}

void Reader::missing(const YAML::Node& parent, const std::string& parent_path, std::string_view key,
                     std::string_view message) {
    const int line = parent.IsDefined() && !parent.is(root_) ? parent.Mark().line + 1 : 0;
    const std::string path = message.empty() ? parent_path : join(parent_path, key);
    const std::string text =
        message.empty() ? "missing required key '" + std::string(key) + "'" : std::string(message);
    problems.push_back({file_, line, path.empty() ? text : path + ": " + text});
}

void Reader::checkKeys(const YAML::Node& map, const std::string& path, const std::vector<std::string_view>& allowed) {
    for (const auto& entry : map) {
        const auto key = entry.first.Scalar();
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            std::string known;
            for (auto a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
            problem(entry.first, join(path, key), "unknown key (expected one of: " + known + ")");
        }
    }
}

bool Reader::expectMap(const YAML::Node& node, const std::string& path) {
    if (node.IsMap()) return true;
    problem(node, path, "must be a mapping");
    return false;
}

bool Reader::expectSequence(const YAML::Node& node, const std::string& path) {
    if (node.IsSequence()) return true;
    problem(node, path, "must be a list");
    return false;
}

std::optional<std::string> Reader::scalar(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
        problem(node, path, "must be a scalar value");
        return std::nullopt;
    }
    return node.Scalar();
}

std::optional<std::string> Reader::nonEmptyString(const YAML::Node& node, const std::string& path) {
    auto text = scalar(node, path);
    if (text && text->empty()) {
        problem(node, path, "must not be empty");
        return std::nullopt;
    }
    return text;
}

std::string Reader::resolvePath(const std::string& path) const {
    if (path.front() == '/') return path;
    return (std::filesystem::path(file_).parent_path() / path).lexically_normal().string();
}

void Reader::afterLoad(std::function<void(Reader&, const Config&)> check) { after_load_.push_back(std::move(check)); }

void Reader::finish(const Config& config) {
    for (const auto& check : after_load_) check(*this, config);
    after_load_.clear();
}

YAML::Node Reader::child(const YAML::Node& map, std::string_view key) {
    if (map.IsDefined() && map.IsMap()) {
        const YAML::Node found = map[std::string(key)];
        if (found.IsDefined()) return found;
    }
    return YAML::Node(YAML::NodeType::Undefined);
}

std::string Reader::join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

}  // namespace hotgate::schema

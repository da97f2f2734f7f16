#include "observability/exposition_merge.h"

#include <map>

namespace hotgate {
namespace {

// One family of a text: its HELP and TYPE lines and its sample lines, in order.
struct FamilyBlock {
    std::string name;
    std::string header;   // "# HELP ...\n# TYPE ...\n"
    std::string samples;  // sample lines, each ending in '\n'
};

// The family a `# HELP name ...` or `# TYPE name ...` line names, or empty for other lines.
std::string_view familyOfComment(std::string_view line) {
    for (std::string_view prefix : {"# HELP ", "# TYPE "}) {
        if (line.substr(0, prefix.size()) != prefix) continue;
        auto rest = line.substr(prefix.size());
        return rest.substr(0, rest.find(' '));
    }
    return {};
}

std::vector<FamilyBlock> splitFamilies(std::string_view text) {
    std::vector<FamilyBlock> blocks;
    while (!text.empty()) {
        const auto end = text.find('\n');
        const auto line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        if (line.empty()) continue;
        if (line.front() == '#') {
            const auto family = familyOfComment(line);
            if (family.empty()) continue;
            if (blocks.empty() || blocks.back().name != family) blocks.push_back({std::string(family), {}, {}});
            blocks.back().header.append(line).push_back('\n');
            continue;
        }
        if (blocks.empty()) blocks.push_back({});  // samples before any HELP/TYPE: a family of their own
        blocks.back().samples.append(line).push_back('\n');
    }
    return blocks;
}

}  // namespace

std::string mergeExpositions(std::string_view own, const std::vector<std::string>& others) {
    auto merged = splitFamilies(own);
    std::map<std::string, std::size_t, std::less<>> index;
    for (std::size_t i = 0; i < merged.size(); ++i) index.emplace(merged[i].name, i);
    for (const auto& other : others) {
        for (auto& block : splitFamilies(other)) {
            if (auto found = index.find(block.name); found != index.end()) {
                merged[found->second].samples += block.samples;
                continue;
            }
            index.emplace(block.name, merged.size());
            merged.push_back(std::move(block));
        }
    }
    std::string out;
    out.reserve(own.size() + 256);
    for (const auto& block : merged) out.append(block.header).append(block.samples);
    return out;
}

}  // namespace hotgate

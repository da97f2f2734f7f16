#include "support/headless_browser.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <sstream>
#include <vector>

namespace hotgate::test {
namespace {

std::string decodeEntities(const std::string& text) {
    static const std::pair<const char*, char> kEntities[] = {{"&quot;", '"'}, {"&amp;", '&'},  {"&lt;", '<'},
                                                             {"&gt;", '>'},   {"&#39;", '\''}, {"&apos;", '\''}};
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        bool replaced = false;
        if (text[i] == '&') {
            for (const auto& [entity, c] : kEntities) {
                if (text.compare(i, std::char_traits<char>::length(entity), entity) == 0) {
                    out.push_back(c);
                    i += std::char_traits<char>::length(entity) - 1;
                    replaced = true;
                    break;
                }
            }
        }
        if (!replaced) out.push_back(text[i]);
    }
    return out;
}

// The flags every run shares: no sandbox (we run as root), no GPU, no network other than the
// page's own requests to 127.0.0.1, and a profile of its own.
std::vector<std::string> baseArguments(const std::filesystem::path& work_dir, const BrowserOptions& options) {
    static std::atomic<int> counter{0};
    const auto profile = work_dir / ("chromium-profile-" + std::to_string(++counter));
    return {chromiumBinary(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--user-data-dir=" + profile.string(),
            "--window-size=" + options.window_size,
            "--virtual-time-budget=" + std::to_string(options.virtual_time.count())};
}

}  // namespace

std::string chromiumBinary() {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        for (const char* name : {"chromium", "chromium-browser"}) {
            const auto candidate = std::filesystem::path(dir) / name;
            if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        }
    }
    return {};
}

CommandResult dumpDom(const std::string& url, const std::filesystem::path& work_dir, const BrowserOptions& options) {
    auto argv = baseArguments(work_dir, options);
    argv.push_back("--dump-dom");
    argv.push_back(url);
    return runCommand(argv, work_dir, options.timeout);
}

CommandResult screenshot(const std::string& url, const std::filesystem::path& png,
                         const std::filesystem::path& work_dir, const BrowserOptions& options) {
    auto argv = baseArguments(work_dir, options);
    argv.push_back("--screenshot=" + png.string());
    argv.push_back(url);
    return runCommand(argv, work_dir, options.timeout);
}

std::map<std::string, std::string> elementAttributes(const std::string& dom, const std::string& id) {
    std::map<std::string, std::string> attributes;
    const auto at = dom.find("id=\"" + id + "\"");
    if (at == std::string::npos) return attributes;
    const auto open = dom.rfind('<', at);
    const auto close = dom.find('>', at);
    if (open == std::string::npos || close == std::string::npos) return attributes;
    // Attributes as Chromium serializes them: name="value" (values never contain a raw '"').
    const std::string tag = dom.substr(open, close - open);
    std::size_t i = tag.find_first_of(" \t\n");
    while (i != std::string::npos && i < tag.size()) {
        i = tag.find_first_not_of(" \t\n", i);
        if (i == std::string::npos) break;
        const auto end_name = tag.find_first_of("= \t\n", i);
        const std::string name = tag.substr(i, end_name - i);
        if (end_name == std::string::npos || tag[end_name] != '=') {
            attributes[name] = "";
            i = end_name;
            continue;
        }
        const auto quote = end_name + 1;
        if (quote >= tag.size() || tag[quote] != '"') break;
        const auto end_value = tag.find('"', quote + 1);
        if (end_value == std::string::npos) break;
        attributes[name] = decodeEntities(tag.substr(quote + 1, end_value - quote - 1));
        i = end_value + 1;
    }
    return attributes;
}

}  // namespace hotgate::test

// Headless Chromium for tests of the pages the admin port serves (/dashboard): load a URL,
// let its scripts run for a budget of virtual time, and return the DOM as it is then, or a
// screenshot. Chromium is a test dependency (tools/deps installs it with the build group).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include "support/child_process.h"

namespace hotgate::test {

// The Chromium binary in PATH ("chromium", as Debian names it), or empty when none is installed.
std::string chromiumBinary();

struct BrowserOptions {
    // Virtual time the page's timers get before the DOM is dumped (fetches run in real time
    // and virtual time waits for them, so a 1 s poll loop runs once per virtual second).
    std::chrono::milliseconds virtual_time{8000};
    std::string window_size = "1400,1000";
    std::chrono::milliseconds timeout{90000};  // wall clock for the whole run
};

// Loads `url` and returns the serialized DOM in out (exit_code 0 on success). A fresh profile
// directory under `work_dir` keeps runs independent.
CommandResult dumpDom(const std::string& url, const std::filesystem::path& work_dir,
                      const BrowserOptions& options = {});

// Loads `url` and writes a PNG screenshot of the window to `png`.
CommandResult screenshot(const std::string& url, const std::filesystem::path& png,
                         const std::filesystem::path& work_dir, const BrowserOptions& options = {});

// The attributes of the first element with id="`id`" in a serialized DOM (entities decoded);
// empty when there is no such element.
std::map<std::string, std::string> elementAttributes(const std::string& dom, const std::string& id);

}  // namespace hotgate::test

// Loading YAML into a validated ConfigSnapshot, all or nothing: every problem in the file is
// reported (file:line: path: message), and no snapshot exists unless there are none.
#pragma once

#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "config/config.h"

namespace hotgate {

struct ConfigProblem {
    std::string file;
    int line = 0;          // 1-based; 0 when the problem has no position (unreadable file)
    std::string message;   // starts with the config path it concerns: "routes[api].cluster: ..."

    std::string format() const;  // "file:line: message"
};

using ConfigProblems = std::vector<ConfigProblem>;

tl::expected<ConfigSnapshot, ConfigProblems> loadConfigFile(const std::string& path);

// `name` stands in for the file name in problems.
tl::expected<ConfigSnapshot, ConfigProblems> loadConfigText(const std::string& text,
                                                            const std::string& name);

// One problem per line.
std::string formatProblems(const ConfigProblems& problems);

}  // namespace hotgate

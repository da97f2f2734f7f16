// problemsOf: what the config loader says of a YAML text, for tests of its refusals.
#pragma once

#include <string>

#include "config/config_loader.h"

namespace hotgate {

// The loader's problems for `text` (file test.yaml), one a line; "(loaded)" when it loads.
inline std::string problemsOf(const std::string& text) {
    auto config = loadConfigText(text, "test.yaml");
    if (config) return "(loaded)";
    return formatProblems(config.error());
}

}  // namespace hotgate

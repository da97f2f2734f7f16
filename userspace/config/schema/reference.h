// docs/config.md, generated from the schema tables (`hotgate --print-config-reference`): per
// section a markdown table, a row per key with its type, default, bounds or allowed values,
// how a change applies and its doc line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema/classification.h"

namespace hotgate::schema {

// What the reference says of a kind of value.
struct TypeDoc {
    std::string type;    // "duration", "set of IP:port"
    std::string bounds;  // "above 0; ms, s, m or h"
};

struct KeyDoc {
    std::string path;                // "listeners[].tls.certificates[].sni"
    TypeDoc type;
    std::string default_value;       // as a file would write it ("10s"); "required"; "" for none
    std::optional<Applies> applies;  // none for a mapping: its keys say
    std::string_view doc;
};

using Reference = std::vector<KeyDoc>;

}  // namespace hotgate::schema

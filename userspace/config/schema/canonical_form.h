// The canonical form of a config as data: every value explicit (defaults filled in), units
// resolved, sets sorted, one line per value. canonicalText() prints it and the config hash is
// taken over that text; the diff compares two forms line by line, each line knowing its
// section, its named entry and how a change to it applies.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/schema/classification.h"

namespace hotgate::schema {

struct CanonicalLine {
    ConfigSection section = ConfigSection::Workers;
    std::string entry;        // the named entry it is in ("api" for routes[api].cluster); empty outside one
    std::string path;         // "routes[api].cluster", "clusters[pay].endpoints"
    std::string value;
    bool set_member = false;  // one member of a set: printed "path += value", compared as a set
    Applies applies = Applies::InPlace;
    bool in_text = true;  // false: a later-added key at its default, left out of text() (Default::addedLater)
};

// A named entry of a list (listeners[public], routes[api], clusters[pay]).
struct CanonicalEntry {
    std::string path;                    // "routes[api]"
    Applies applies = Applies::InPlace;  // how adding or removing the whole entry applies
};

struct CanonicalForm {
    using EntryKey = std::pair<ConfigSection, std::string>;  // section and name

    std::vector<CanonicalLine> lines;
    std::map<EntryKey, CanonicalEntry> entries;

    // "path = value" or "path += member", one a line, in the order of `lines` (those in_text).
    std::string text() const;
};

// Collects the lines of a form while the schema walks a config.
class CanonicalWriter {
public:
    void beginSection(ConfigSection section);
    // Lines written until endEntry() belong to the entry at `path`.
    void beginEntry(const std::string& path, const std::string& name, Applies applies);
    void endEntry();
    void value(const std::string& path, std::string value, Applies applies, bool in_text = true);
    void member(const std::string& path, std::string member, Applies applies);

    CanonicalForm form;

private:
    ConfigSection section_ = ConfigSection::Workers;
    std::string entry_;
};

// Free text (bodies, file names) as one double-quoted line, whatever bytes it holds: quote,
// backslash, control and non-ASCII bytes escaped (as \xNN: a body need not be UTF-8), so two
// different texts never give the same line.
std::string quoted(std::string_view text);

}  // namespace hotgate::schema

// The config schema: one table per section (config/schema/<section>.cpp) gives every key its
// member, type and bounds, default, whether a change applies in place or needs a new version,
// and a doc line. The loader, the canonical form (and so the config hash), the diff and
// docs/config.md all walk these tables: adding a key is one row plus its use.
#pragma once

#include <iosfwd>

#include "config/config.h"
#include "config/schema/canonical_form.h"
#include "config/schema/classification.h"

namespace YAML {
class Node;
}

namespace hotgate::schema {

class Reader;

// Fills `config` from a document's root: defaults for what the file leaves out, every problem
// to `reader`, checks across sections (a route's cluster exists) last.
void readConfig(Reader& reader, const YAML::Node& root, Config& config);

// The normalized form of `config`, sections in file order (see canonical_form.h).
CanonicalForm canonicalForm(const Config& config);

// docs/config.md: every key with its type, default, bounds, how a change applies and its doc.
void writeReference(std::ostream& out);

}  // namespace hotgate::schema

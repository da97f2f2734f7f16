// Files replaced whole: a reader sees the old content or the new, never half of either.
#pragma once

#include <string>

#include "common/error.h"

namespace hotgate {

// Writes `text` to `path` through a temporary beside it (`path`.tmp), fsynced and renamed over
// it; the file is mode 0600 (what it holds may be secret: configs, session ticket keys).
Result<void> writeFileAtomically(const std::string& path, const std::string& text);

}  // namespace hotgate

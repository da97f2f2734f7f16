// Merging Prometheus text expositions (format 0.0.4): one process's /metrics body plus the
// samples other versions of the gateway serve for the same families. The text format wants each
// family once, its samples under one `# HELP` / `# TYPE`; this puts every other text's samples
// under the first text's block of the same family, and appends families the first text lacks.
// See docs/operations.md "Metrics across versions".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hotgate {

// `own` with the samples of `others` merged in, family by family. A sample line belongs to
// the family of the last `# HELP` or `# TYPE` above it; comment lines other than HELP and TYPE
// are dropped from `others`. The texts must not share a series (their `version` labels differ).
std::string mergeExpositions(std::string_view own, const std::vector<std::string>& others);

}  // namespace hotgate

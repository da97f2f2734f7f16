// Parsing of the unit-bearing scalars of the config: durations ("1500ms", "2s", "1.5m") and
// sizes ("16k", "10MB", or a plain number of bytes).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hotgate {

// Returns nullopt when the text is not a number followed by ms, s, m or h. A plain number is
// rejected on purpose: "30" could mean seconds or milliseconds, and guessing is how outages start.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

// Returns nullopt unless the text is a number of bytes, optionally followed by k/m/g
// (or KB/MB/GB, KiB/MiB/GiB; all binary multiples).
std::optional<std::uint64_t> parseSize(std::string_view text);

}  // namespace hotgate

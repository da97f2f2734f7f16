// Download of a release artifact from an http://, https:// or file:// URL into an open file,
// bounded in size and in time, hashed (SHA-256) on the way so the bytes are read once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace hotgate::release {

// True when `source` names a URL this module fetches (http://, https://, file://; the scheme
// in any case), false for a path.
bool isFetchableUrl(std::string_view source);

struct FetchLimits {
    std::uint64_t max_bytes = 256ull << 20;     // more than this and the download fails
    std::chrono::milliseconds timeout{60'000};  // the whole transfer, connect to last byte
    bool show_progress = false;                 // a progress line on stderr (callers pass isatty(2))
};

// What a successful fetch wrote.
struct FetchedArtifact {
    std::uint64_t bytes = 0;
    std::string sha256;    // of those bytes, 64 lower-case hex digits
    long http_status = 0;  // 0 for file://
};

// Fetches `url` and writes its body to `fd` (an empty file open for writing), following up to
// five redirects to http(s) only. Fails, naming the URL, on an HTTP status of 400 or more, a
// body larger than limits.max_bytes (before or while downloading), a transfer longer than
// limits.timeout, a failed write (with errno), or any transport error libcurl reports.
Result<FetchedArtifact> fetchArtifact(const std::string& url, int fd, const FetchLimits& limits);

}  // namespace hotgate::release

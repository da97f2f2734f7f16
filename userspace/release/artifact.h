// The artifact step of `gwctl upgrade`: from what the operator named (a path, or an http://,
// https:// or file:// URL) to a verified binary on disk that may be run, or a refusal saying
// why. Nothing is executed here. The report says what happened, for logs and (later) spans.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/error.h"
#include "release/artifact_fetch.h"
#include "release/artifact_verify.h"

namespace hotgate::release {

// A detached signature over the binary and the public key to check it with.
struct SignatureFiles {
    std::filesystem::path signature;
    std::filesystem::path public_key;
};

struct ArtifactRequest {
    std::string source;                          // a path, or a URL (isFetchableUrl)
    std::optional<std::string> expected_sha256;  // parsed (parseSha256Hex): 64 lower-case hex digits
    std::optional<SignatureFiles> signature;
    std::filesystem::path bundle_dir;  // where a download is kept: <bundle_dir>/<sha256>/hotgate
    FetchLimits limits;
};

enum class ArtifactOrigin {
    LocalPath,   // the binary is the path given, checked where it is
    Downloaded,  // fetched into the bundle directory
};

enum class SignatureCheck {
    NotChecked,  // no signature was given
    Valid,
    Invalid,  // checked, and it does not verify
};

// What the artifact step did. On success `binary` is what may be run; on failure `error` says
// why (naming the file or URL), and whatever was learned before it is filled in.
// Where preparing an artifact stopped.
enum class ArtifactStep {
    None,      // it did not: the binary is ready
    Download,  // fetching it (or staging the download)
    Verify,    // its digest or signature (or reading the file)
    Install,   // moving the verified download into the bundle directory
};

struct ArtifactReport {
    ArtifactOrigin origin = ArtifactOrigin::LocalPath;
    std::string source;            // as the operator gave it
    std::filesystem::path binary;  // the verified binary (the bundle path when downloaded)
    std::string sha256;            // of the bytes; empty for a path nobody asked to check
    std::uint64_t bytes = 0;
    SignatureCheck signature = SignatureCheck::NotChecked;
    std::optional<SignatureAlgorithm> signature_algorithm;
    std::chrono::microseconds download_duration{0};
    std::chrono::microseconds verify_duration{0};
    std::optional<Error> error;
    ArtifactStep failed_at = ArtifactStep::None;  // set with `error`

    bool ok() const { return !error.has_value(); }
};

// Downloads (a URL) and verifies (the SHA-256 when expected is set, the signature when given)
// the binary `request` names. A download lands in the bundle directory only once every check
// passed; a failed one leaves nothing behind. A path is checked in place and not copied.
ArtifactReport prepareArtifact(const ArtifactRequest& request);

}  // namespace hotgate::release

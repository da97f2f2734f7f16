// The artifact step of `gwctl upgrade`: its options (--binary PATH|URL, --sha256, --signature,
// --public-key, --bundle-dir, --max-download-size, --download-timeout), their check, and the
// line that tells the operator what was fetched and verified (userspace/release/ does the work).
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>

#include "common/error.h"
#include "release/artifact.h"
#include "release/artifact_bundle.h"

namespace gwctl {

struct ArtifactOptions {
    std::string binary;  // a path, or an http://, https:// or file:// URL
    std::string sha256;
    std::string signature;
    std::string public_key;
    std::string bundle_dir = hotgate::release::kDefaultBundleDir;
    std::string max_download_size = "256MiB";
    std::string download_timeout = "60s";
};

// Adds the options above to `upgrade`, bound to `options`.
void addArtifactOptions(CLI::App& upgrade, ArtifactOptions& options);

// The request the options describe. Fails, naming the option, on a malformed --sha256, a size or
// duration that does not parse, or --signature without --public-key (or the reverse).
hotgate::Result<hotgate::release::ArtifactRequest> artifactRequest(const ArtifactOptions& options);

// One line on what the artifact step did: "artifact: <binary> (<bytes> bytes, downloaded from
// <url> in <ms> ms; sha256 <hex> matches; Ed25519 signature valid)".
void describeArtifact(std::ostream& out, const hotgate::release::ArtifactReport& report);

}  // namespace gwctl

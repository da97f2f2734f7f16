#include "upgrade_artifact.h"

#include <unistd.h>

#include "config/units.h"

namespace gwctl {

using hotgate::fail;
using hotgate::release::ArtifactReport;
using hotgate::release::ArtifactRequest;

void addArtifactOptions(CLI::App& upgrade, ArtifactOptions& options) {
    upgrade
        .add_option("--binary", options.binary,
                    "the new hotgate binary: a path, or an http://, https:// or file:// URL")
        ->required();
    upgrade.add_option("--sha256", options.sha256, "refuse the binary unless its SHA-256 is this (64 hex digits)");
    upgrade.add_option("--signature", options.signature,
                       "refuse the binary unless this detached signature over it verifies (needs --public-key)");
    upgrade.add_option("--public-key", options.public_key,
                       "the Ed25519 or ECDSA P-256 public key (PEM) --signature is checked with");
    upgrade
        .add_option("--bundle-dir", options.bundle_dir, "where a downloaded binary is kept, as <dir>/<sha256>/hotgate")
        ->capture_default_str();
    upgrade.add_option("--max-download-size", options.max_download_size, "refuse a download larger than this")
        ->capture_default_str();
    upgrade.add_option("--download-timeout", options.download_timeout, "refuse a download that takes longer than this")
        ->capture_default_str();
}

hotgate::Result<ArtifactRequest> artifactRequest(const ArtifactOptions& options) {
    ArtifactRequest request;
    request.source = options.binary;
    request.bundle_dir = options.bundle_dir;
    if (!options.sha256.empty()) {
        auto digest = hotgate::release::parseSha256Hex(options.sha256);
        if (!digest) return fail("--sha256: ", digest.error().message);
        request.expected_sha256 = std::move(*digest);
    }
    if (options.signature.empty() != options.public_key.empty())
        return fail(options.signature.empty() ? "--public-key needs --signature (the signature file to check with it)"
                                              : "--signature needs --public-key (the key to check it with)");
    if (!options.signature.empty())
        request.signature = hotgate::release::SignatureFiles{options.signature, options.public_key};
    const auto max_bytes = hotgate::parseSize(options.max_download_size);
    if (!max_bytes || *max_bytes == 0)
        return fail("--max-download-size '", options.max_download_size, "' is not a size (e.g. 256MiB)");
    const auto timeout = hotgate::parseDuration(options.download_timeout);
    if (!timeout || timeout->count() <= 0)
        return fail("--download-timeout '", options.download_timeout, "' is not a duration (e.g. 60s)");
    request.limits.max_bytes = *max_bytes;
    request.limits.timeout = *timeout;
    request.limits.show_progress = ::isatty(STDERR_FILENO) == 1;
    return request;
}

void describeArtifact(std::ostream& out, const ArtifactReport& report) {
    using hotgate::release::ArtifactOrigin;
    using hotgate::release::SignatureCheck;
    const bool downloaded = report.origin == ArtifactOrigin::Downloaded;
    const bool digest_checked = !report.sha256.empty();
    if (!downloaded && !digest_checked && report.signature == SignatureCheck::NotChecked) return;  // as before
    out << "artifact: " << report.binary.string() << " (" << report.bytes << " bytes";
    if (downloaded)
        out << ", downloaded from " << report.source << " in " << report.download_duration.count() / 1000 << " ms";
    if (digest_checked) out << "; sha256 " << report.sha256;
    if (report.signature == SignatureCheck::Valid && report.signature_algorithm)
        out << "; " << hotgate::release::signatureAlgorithmName(*report.signature_algorithm) << " signature valid";
    out << "; verified in " << report.verify_duration.count() / 1000 << " ms)\n";
}

}  // namespace gwctl

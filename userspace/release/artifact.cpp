#include "release/artifact.h"

#include <sys/stat.h>

#include "release/artifact_bundle.h"

namespace hotgate::release {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::microseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

// Checks `file` (what `report.source` names) against the request: its digest when one is
// expected (`actual_sha256` when already known from the download), then its signature.
// Fills the report's digest, signature and verify duration; returns false with report.error set
// on a refusal.
bool verifyInto(ArtifactReport& report, const ArtifactRequest& request, const std::filesystem::path& file,
                std::string actual_sha256) {
    const auto start = Clock::now();
    const std::string& where = report.source;  // a staging file's name would tell the operator nothing
    if (request.expected_sha256) {
        if (actual_sha256.empty()) {
            auto digest = sha256OfFile(file);
            if (!digest) {
                report.failed_at = ArtifactStep::Verify;
                report.error = digest.error();
                return false;
            }
            actual_sha256 = std::move(*digest);
        }
        report.sha256 = actual_sha256;
        if (actual_sha256 != *request.expected_sha256) {
            report.verify_duration = since(start);
            report.failed_at = ArtifactStep::Verify;
            report.error = Error{"sha256 mismatch for " + where + ": expected " + *request.expected_sha256 + ", got " +
                                 actual_sha256};
            return false;
        }
    }
    if (request.signature) {
        const auto& files = *request.signature;
        auto verdict = verifySignature(file, files.signature, files.public_key);
        report.verify_duration = since(start);
        if (!verdict) {
            report.failed_at = ArtifactStep::Verify;
            report.error = verdict.error();
            return false;
        }
        report.signature_algorithm = verdict->algorithm;
        report.signature = verdict->valid ? SignatureCheck::Valid : SignatureCheck::Invalid;
        if (!verdict->valid) {
            report.failed_at = ArtifactStep::Verify;
            report.error = Error{"signature " + files.signature.string() + " does not verify over " + where +
                                 " with the " + std::string(signatureAlgorithmName(verdict->algorithm)) +
                                 " public key " + files.public_key.string()};
            return false;
        }
    }
    report.verify_duration = since(start);
    return true;
}

ArtifactReport prepareLocal(const ArtifactRequest& request) {
    ArtifactReport report;
    report.origin = ArtifactOrigin::LocalPath;
    report.source = request.source;
    report.binary = request.source;
    struct stat st {};
    if (::stat(request.source.c_str(), &st) != 0) {
        report.failed_at = ArtifactStep::Verify;
        report.error = sysError(errno, "binary ", request.source).value();
        return report;
    }
    report.bytes = static_cast<std::uint64_t>(st.st_size);
    verifyInto(report, request, request.source, {});
    return report;
}

ArtifactReport prepareDownload(const ArtifactRequest& request) {
    ArtifactReport report;
    report.origin = ArtifactOrigin::Downloaded;
    report.source = request.source;
    auto staged = StagedArtifact::create(request.bundle_dir);
    if (!staged) {
        report.failed_at = ArtifactStep::Download;
        report.error = staged.error();
        return report;
    }
    const auto start = Clock::now();
    auto fetched = fetchArtifact(request.source, staged->fd(), request.limits);
    report.download_duration = since(start);
    if (!fetched) {
        report.failed_at = ArtifactStep::Download;
        report.error = fetched.error();
        return report;
    }
    report.bytes = fetched->bytes;
    report.sha256 = fetched->sha256;
    if (!verifyInto(report, request, staged->path(), fetched->sha256)) return report;
    auto installed = staged->install(fetched->sha256);
    if (!installed) {
        report.failed_at = ArtifactStep::Install;
        report.error = installed.error();
        return report;
    }
    report.binary = *installed;
    return report;
}

}  // namespace

ArtifactReport prepareArtifact(const ArtifactRequest& request) {
    return isFetchableUrl(request.source) ? prepareDownload(request) : prepareLocal(request);
}

}  // namespace hotgate::release

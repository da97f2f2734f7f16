#include "stage_report.h"

#include <regex>

#include "commands.h"
#include "control_client.h"
#include "telemetry/span.h"

namespace gwctl {
namespace {

using hotgate::control::GwctlStage;
using hotgate::control::ReportedStage;
using hotgate::release::ArtifactStep;

std::uint64_t nanos(std::chrono::microseconds duration) {
    return static_cast<std::uint64_t>(duration.count()) * 1000;
}

}  // namespace

void StageReport::addArtifact(const hotgate::release::ArtifactReport& artifact, std::uint64_t started) {
    std::uint64_t at = started;
    if (artifact.origin == hotgate::release::ArtifactOrigin::Downloaded) {
        ReportedStage download{GwctlStage::Download, at, at + nanos(artifact.download_duration)};
        download.attributes["url"] = artifact.source;
        download.attributes["bytes"] = artifact.bytes;
        if (!artifact.sha256.empty()) download.attributes["bundle_id"] = artifact.sha256;
        if (artifact.failed_at == ArtifactStep::Download) {
            download.ok = false;
            download.message = artifact.error->message;
        }
        at = download.end_unix_nanos;
        report_.stages.push_back(std::move(download));
        if (artifact.failed_at == ArtifactStep::Download) return;
    }
    // Verified: a digest or a signature was asked for (or reading the file failed).
    const bool checked = !artifact.sha256.empty() || artifact.signature != hotgate::release::SignatureCheck::NotChecked ||
                         artifact.failed_at == ArtifactStep::Verify;
    if (!checked) return;
    ReportedStage verify{GwctlStage::Verify, at, at + nanos(artifact.verify_duration)};
    verify.attributes["sha256"] = artifact.sha256;
    verify.attributes["signature_valid"] = artifact.signature == hotgate::release::SignatureCheck::Valid;
    if (artifact.signature_algorithm)
        verify.attributes["signature_algorithm"] = std::string(signatureAlgorithmName(*artifact.signature_algorithm));
    if (artifact.failed_at == ArtifactStep::Verify) {
        verify.ok = false;
        verify.message = artifact.error->message;
    }
    report_.stages.push_back(std::move(verify));
}

void StageReport::addPreCheck(std::uint64_t started, bool ok, const std::string& output,
                              std::chrono::milliseconds ready_timeout) {
    ReportedStage check{GwctlStage::PreCheck, started, std::max(started, hotgate::telemetry::unixNanosNow())};
    static const std::regex hash(R"(\(hash ([0-9a-f]+)\))");
    if (std::smatch found; std::regex_search(output, found, hash)) check.attributes["config_hash"] = found[1].str();
    check.attributes["timeout_ms"] = ready_timeout.count();
    check.ok = ok;
    if (!ok) check.message = output.substr(0, 512);
    report_.stages.push_back(std::move(check));
}

void StageReport::send(const GlobalOptions& global, int successor_pid) const {
    if (report_.stages.empty()) return;
    auto report = report_;
    report.pid = successor_pid;
    (void)controlRequest(global.control_socket, hotgate::control::MessageType::UpgradeStages, report.toJson(),
                         std::chrono::seconds(2));
}

}  // namespace gwctl

// The bundle directory: where downloaded binaries are kept, one per content, as
// <dir>/<sha256>/hotgate (mode 0755). A download is written to a staging file inside the
// directory and renamed into place only once verified, so a path in the bundle always holds a
// whole, verified binary, and nothing half-written is ever run.
#pragma once

#include <filesystem>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace hotgate::release {

// Where `gwctl upgrade` puts downloaded binaries unless told otherwise (--bundle-dir).
inline constexpr const char* kDefaultBundleDir = "/var/lib/hotgate/bundles";

// <dir>/<sha256>/hotgate: the one place a binary with that digest is kept.
std::filesystem::path bundledBinaryPath(const std::filesystem::path& bundle_dir, const std::string& sha256);

// A file being downloaded into the bundle directory: removed when it goes away unless install()
// moved it into place first. Move-only.
class StagedArtifact {
public:
    // Creates the bundle directory when missing (like mkdir -p) and an empty staging file in it
    // (<dir>/.staging-XXXXXX, mode 0600). Fails naming the directory and errno.
    static Result<StagedArtifact> create(const std::filesystem::path& bundle_dir);

    StagedArtifact(StagedArtifact&& other) noexcept;
    StagedArtifact& operator=(StagedArtifact&&) = delete;
    StagedArtifact(const StagedArtifact&) = delete;
    ~StagedArtifact();

    int fd() const { return fd_.get(); }
    const std::filesystem::path& path() const { return path_; }

    // Flushes the file to disk, makes it 0755 and renames it to bundledBinaryPath(dir, sha256)
    // (replacing a binary with the same digest, i.e. the same bytes). Returns that path. Fails
    // naming the file and errno; the staging file is then still removed on destruction.
    Result<std::filesystem::path> install(const std::string& sha256);

private:
    StagedArtifact(std::filesystem::path bundle_dir, std::filesystem::path path, UniqueFd fd);
    std::filesystem::path bundle_dir_;
    std::filesystem::path path_;  // empty once installed (or moved from)
    UniqueFd fd_;
};

}  // namespace hotgate::release

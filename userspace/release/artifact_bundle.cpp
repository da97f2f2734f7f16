#include "release/artifact_bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

namespace hotgate::release {
namespace {

constexpr mode_t kDirectoryMode = 0755;
constexpr mode_t kBinaryMode = 0755;

// Like mkdir -p (created levels get 0777 less the umask).
Result<void> makeDirectories(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return sysError(ec.value(), "create directory ", dir.string());
    return {};
}

// Makes a rename into `dir` durable (the new entry survives a crash).
void syncDirectory(const std::filesystem::path& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd) ::fsync(fd.get());
}

}  // namespace

std::filesystem::path bundledBinaryPath(const std::filesystem::path& bundle_dir, const std::string& sha256) {
    return bundle_dir / sha256 / "hotgate";
}

Result<StagedArtifact> StagedArtifact::create(const std::filesystem::path& bundle_dir) {
    if (auto made = makeDirectories(bundle_dir); !made) return tl::unexpected(made.error());
    std::string name = (bundle_dir / ".staging-XXXXXX").string();
    const int fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd < 0) return sysError(errno, "create a staging file in bundle directory ", bundle_dir.string());
    return StagedArtifact(bundle_dir, name, UniqueFd(fd));
}

StagedArtifact::StagedArtifact(std::filesystem::path bundle_dir, std::filesystem::path path, UniqueFd fd)
    : bundle_dir_(std::move(bundle_dir)), path_(std::move(path)), fd_(std::move(fd)) {}

StagedArtifact::StagedArtifact(StagedArtifact&& other) noexcept
    : bundle_dir_(std::move(other.bundle_dir_)), path_(std::exchange(other.path_, {})), fd_(std::move(other.fd_)) {}

StagedArtifact::~StagedArtifact() {
    if (!path_.empty()) ::unlink(path_.c_str());
}

Result<std::filesystem::path> StagedArtifact::install(const std::string& sha256) {
    if (::fsync(fd_.get()) != 0) return sysError(errno, "flush ", path_.string());
    if (::fchmod(fd_.get(), kBinaryMode) != 0) return sysError(errno, "chmod 0755 ", path_.string());
    const auto target = bundledBinaryPath(bundle_dir_, sha256);
    if (auto made = makeDirectories(target.parent_path()); !made) return tl::unexpected(made.error());
    ::chmod(target.parent_path().c_str(), kDirectoryMode);  // readable by whoever runs the binary
    if (::rename(path_.c_str(), target.c_str()) != 0)
        return sysError(errno, "rename ", path_.string(), " to ", target.string());
    path_.clear();
    // The binary is run by exec: no descriptor of ours may stay open for writing on it
    // (execve fails with ETXTBSY while one does).
    fd_.reset();
    syncDirectory(target.parent_path());
    return target;
}

}  // namespace hotgate::release

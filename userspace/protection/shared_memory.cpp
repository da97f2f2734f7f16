#include "protection/shared_memory.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace hotgate::protection {

Result<SharedMemory> SharedMemory::create(const char* name, std::size_t bytes, const std::string& what) {
    UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
    if (!fd) return sysError(errno, "memfd_create for the ", what);
    if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0)
        return sysError(errno, "size the ", what, " (fd ", fd.get(), ") to ", bytes, " bytes");
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (base == MAP_FAILED) return sysError(errno, "map the ", what, " (fd ", fd.get(), ")");
    return SharedMemory(std::move(fd), base, bytes);
}

Result<SharedMemory> SharedMemory::attach(UniqueFd fd, const std::string& what) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return sysError(errno, "stat the ", what, " fd ", fd.get());
    const auto bytes = static_cast<std::size_t>(st.st_size);
    if (bytes == 0) return fail("fd ", fd.get(), " is not a ", what, " (0 bytes)");
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (base == MAP_FAILED) return sysError(errno, "map the ", what, " fd ", fd.get());
    return SharedMemory(std::move(fd), base, bytes);
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

SharedMemory& SharedMemory::operator=(SharedMemory&& other) noexcept {
    if (this != &other) {
        if (base_) ::munmap(base_, bytes_);
        fd_ = std::move(other.fd_);
        base_ = std::exchange(other.base_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
}

SharedMemory::~SharedMemory() {
    if (base_) ::munmap(base_, bytes_);
}

}  // namespace hotgate::protection

// SharedMemory: a memfd mapped shared: the storage of the protection tables, which the next
// version of the gateway maps too when it gets the fd at the handover (docs/protection.md).
#pragma once

#include <cstddef>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"

namespace hotgate::protection {

class SharedMemory {
public:
    // `bytes` of zeroed memory in a new memfd called `name`; `what` names it in errors.
    static Result<SharedMemory> create(const char* name, std::size_t bytes, const std::string& what);
    // Maps all of the memory behind `fd`; `what` names it in errors.
    static Result<SharedMemory> attach(UniqueFd fd, const std::string& what);

    SharedMemory(SharedMemory&& other) noexcept;
    SharedMemory& operator=(SharedMemory&& other) noexcept;
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;
    ~SharedMemory();

    void* base() const { return base_; }
    std::size_t bytes() const { return bytes_; }
    int fd() const { return fd_.get(); }

private:
    SharedMemory(UniqueFd fd, void* base, std::size_t bytes) : fd_(std::move(fd)), base_(base), bytes_(bytes) {}

    UniqueFd fd_;
    void* base_ = nullptr;
    std::size_t bytes_ = 0;
};

}  // namespace hotgate::protection

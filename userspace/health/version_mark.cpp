#include "health/version_mark.h"

#include <sys/socket.h>

#include <cerrno>
#include <random>

#include "common/unique_fd.h"

namespace hotgate::health {

Result<VersionMark> VersionMark::make(std::uint64_t base_seconds, std::uint32_t slot, std::uint32_t index) {
    if (slot >= HEALTH_SLOTS) return fail("health slot ", slot, " out of range (0..", HEALTH_SLOTS - 1, ")");
    if (index >= HEALTH_MAX_INDEX) return fail("listener index ", index, " above ", HEALTH_MAX_INDEX - 1);
    if (base_seconds < HEALTH_MARK_SECONDS)
        return fail("no version-mark base (", base_seconds, " s is below ", HEALTH_MARK_SECONDS, " s)");
    return VersionMark(base_seconds, slot, index);
}

std::optional<VersionMark> VersionMark::decode(std::uint64_t base_seconds, std::uint64_t seconds) {
    if (base_seconds < HEALTH_MARK_SECONDS || seconds < base_seconds || seconds - base_seconds >= HEALTH_MARK_CODES)
        return std::nullopt;
    const std::uint64_t code = seconds - base_seconds;
    return VersionMark(base_seconds, static_cast<std::uint32_t>(code / HEALTH_MAX_INDEX),
                       static_cast<std::uint32_t>(code % HEALTH_MAX_INDEX));
}

Result<std::optional<VersionMark>> VersionMark::readFrom(int fd, std::uint64_t base_seconds) {
    timeval timeout{};
    socklen_t len = sizeof(timeout);
    if (::getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, &len) != 0)
        return sysError(errno, "read the version mark of fd ", fd, " (SO_RCVTIMEO)");
    if (timeout.tv_sec < 0 || timeout.tv_usec != 0) return std::optional<VersionMark>();
    return decode(base_seconds, static_cast<std::uint64_t>(timeout.tv_sec));
}

std::uint64_t VersionMark::newBase() {
    std::random_device entropy;
    const std::uint64_t id = entropy() & ((1u << HEALTH_MARK_ID_BITS) - 1);
    return HEALTH_MARK_SECONDS + id * HEALTH_MARK_CODES;
}

Result<std::uint64_t> VersionMark::measureKernelHz() {
    UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) return sysError(errno, "create a socket to measure the kernel's HZ");
    timeval tv{0, 1};
    if (::setsockopt(probe.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
        return sysError(errno, "set SO_RCVTIMEO to measure the kernel's HZ");
    socklen_t len = sizeof(tv);
    if (::getsockopt(probe.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, &len) != 0)
        return sysError(errno, "read SO_RCVTIMEO to measure the kernel's HZ");
    if (tv.tv_sec != 0 || tv.tv_usec <= 0 || 1000000 % tv.tv_usec != 0)
        return fail("a 1 us receive timeout reads back as ", tv.tv_sec, " s ", tv.tv_usec,
                    " us: not one jiffy, cannot tell the kernel's HZ");
    return static_cast<std::uint64_t>(1000000 / tv.tv_usec);
}

Result<void> VersionMark::applyTo(int fd) const {
    const timeval mark = timeout();
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &mark, sizeof(mark)) != 0)
        return sysError(errno, "mark listening fd ", fd, " with health slot ", slot_, " (SO_RCVTIMEO)");
    return {};
}

timeval VersionMark::timeout() const { return timeval{static_cast<time_t>(seconds()), 0}; }

}  // namespace hotgate::health

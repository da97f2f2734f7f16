// VersionMark: which version slot and listener a listening socket belongs to, carried in the
// socket's receive timeout (SO_RCVTIMEO, see HEALTH_MARK_SECONDS in bpf/health.h): base +
// slot * HEALTH_MAX_INDEX + listener index seconds, where base is the pin set's
// health_meta.mark_seconds. The kernel copies it into every connection the listener accepts,
// and the health programs decode it. This is the one type that encodes, decodes, sets and
// reads it: no other gateway code sets SO_RCVTIMEO (tests/unit/version_mark_test.cpp fails
// when some does).
#pragma once

#include <linux/types.h>  // before health.h: it uses the kernel's __u32/__u64
#include <sys/time.h>

#include <cstdint>
#include <optional>

#include "common/error.h"
#include "health.h"

namespace hotgate::health {

class VersionMark {
public:
    // The mark of (slot, listener index) under `base_seconds`. Fails naming the slot
    // (>= HEALTH_SLOTS), the listener index (>= HEALTH_MAX_INDEX) or a base below
    // HEALTH_MARK_SECONDS, in that order.
    static Result<VersionMark> make(std::uint64_t base_seconds, std::uint32_t slot, std::uint32_t index);
    // The mark a receive timeout of `seconds` carries under `base_seconds`; nullopt when it is
    // none of this base's codes (no mark, or another gateway's).
    static std::optional<VersionMark> decode(std::uint64_t base_seconds, std::uint64_t seconds);
    // Reads the receive timeout of `fd` and decodes it. Fails naming the fd.
    static Result<std::optional<VersionMark>> readFrom(int fd, std::uint64_t base_seconds);

    // A base for a new pin set: HEALTH_MARK_SECONDS plus a random id times HEALTH_MARK_CODES, so
    // another gateway's marks (other pins, other programs) never decode as this one's.
    static std::uint64_t newBase();
    // The kernel's HZ, which the programs need to decode a mark from sk_rcvtimeo (jiffies):
    // a receive timeout of 1 us set on a throwaway socket reads back as one jiffy.
    static Result<std::uint64_t> measureKernelHz();

    // Sets the mark as `fd`'s receive timeout: the connections it accepts from now on carry
    // it. Inert on the gateway's non-blocking sockets. Fails naming the fd, slot and errno.
    Result<void> applyTo(int fd) const;

    std::uint64_t base() const { return base_; }
    std::uint32_t slot() const { return slot_; }
    std::uint32_t index() const { return index_; }
    // The receive timeout in seconds.
    std::uint64_t seconds() const { return base_ + std::uint64_t{slot_} * HEALTH_MAX_INDEX + index_; }
    timeval timeout() const;

    bool operator==(const VersionMark&) const = default;

private:
    VersionMark(std::uint64_t base, std::uint32_t slot, std::uint32_t index) : base_(base), slot_(slot), index_(index) {}

    std::uint64_t base_;
    std::uint32_t slot_;
    std::uint32_t index_;
};

}  // namespace hotgate::health

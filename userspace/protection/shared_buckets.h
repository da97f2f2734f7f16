// SharedBuckets: token buckets (route rate limits, issue 19) in a memory-backed table that every
// worker of a process, and the next version of the gateway, map: the successor gets the table's
// fd at the handover and keeps spending from the same buckets, so neither the overlap of two
// versions nor a commit gives a client a fresh limit. Each bucket is one 64-bit word (tokens and
// the time of the last refill) updated by compare-and-swap, so no lock is shared between
// processes. The table is bounded: a new key takes an empty slot of its probe window or the one
// refilled longest ago (an eviction, counted).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/unique_fd.h"
#include "protection/shared_memory.h"

namespace hotgate::protection {

// A limit: `rate` tokens per second, at most `burst` held (both above 0).
struct BucketLimit {
    double rate = 0;
    std::uint32_t burst = 0;
};

class SharedBuckets {
public:
    static constexpr std::uint32_t kMaxBurst = (1u << 16) - 1;  // tokens a bucket can hold
    static constexpr unsigned kProbe = 8;                      // slots a key may take

    // A new table of `slots` buckets (rounded up to a power of two) in a memfd.
    static Result<std::unique_ptr<SharedBuckets>> create(std::uint32_t slots);
    // Maps the table behind `fd` (from create() of this or an earlier version); fails, naming
    // the fd, when it is not one.
    static Result<std::unique_ptr<SharedBuckets>> attach(UniqueFd fd);
    SharedBuckets(const SharedBuckets&) = delete;
    SharedBuckets& operator=(const SharedBuckets&) = delete;

    // Takes one token from the bucket of `key_hash` (never 0: hash it with lb::hashKey) at
    // `now_ms` (CLOCK_MONOTONIC milliseconds: the same clock in every process). A key not in
    // the table starts with a full bucket. False when the bucket is empty.
    bool take(std::uint64_t key_hash, const BucketLimit& limit, std::uint64_t now_ms);

    // Milliseconds until the bucket of `key_hash` holds a token again (0: it does now).
    std::uint64_t msUntilToken(std::uint64_t key_hash, const BucketLimit& limit, std::uint64_t now_ms) const;

    std::uint32_t slots() const { return slots_; }
    std::uint64_t evictions() const;
    int fd() const { return memory_.fd(); }

    // CLOCK_MONOTONIC now, in milliseconds.
    static std::uint64_t nowMs();

private:
    struct Header;
    struct Slot;
    explicit SharedBuckets(SharedMemory memory);

    Slot* find(std::uint64_t key_hash) const;
    Slot& claim(std::uint64_t key_hash, std::uint64_t now_ms);

    SharedMemory memory_;
    Header* header_;
    Slot* slots_begin_;
    std::uint32_t slots_;
};

}  // namespace hotgate::protection

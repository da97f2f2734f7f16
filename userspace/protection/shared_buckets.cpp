#include "protection/shared_buckets.h"

#include <time.h>

#include <algorithm>
#include <cmath>

namespace hotgate::protection {
namespace {

constexpr std::uint64_t kMagic = 0x686f74676174652dULL;  // "hotgate-"
constexpr std::uint32_t kLayout = 1;  // bump when Header or Slot change: an older table is then refused

// A bucket's state word: the time of its last refill (ms, upper 40 bits) and its tokens in
// 1/256 (lower 24 bits). 0 is a bucket never used: full at its first take.
constexpr unsigned kTokenBits = 24;
constexpr std::uint64_t kTokenMask = (1ULL << kTokenBits) - 1;
constexpr std::uint64_t kOne = 256;  // one token

std::uint64_t encode(std::uint64_t tokens, std::uint64_t ms) { return (ms << kTokenBits) | (tokens & kTokenMask); }
std::uint64_t tokensOf(std::uint64_t state) { return state & kTokenMask; }
std::uint64_t msOf(std::uint64_t state) { return state >> kTokenBits; }

// The tokens of `state` at `now_ms`, refilled at the limit's rate and capped at its burst.
std::uint64_t refilled(std::uint64_t state, const BucketLimit& limit, std::uint64_t now_ms) {
    const std::uint64_t full = std::min(limit.burst, SharedBuckets::kMaxBurst) * kOne;
    if (state == 0) return full;
    const std::uint64_t elapsed = now_ms > msOf(state) ? now_ms - msOf(state) : 0;
    const double gained = limit.rate * static_cast<double>(elapsed) * static_cast<double>(kOne) / 1000.0;
    const double tokens = static_cast<double>(tokensOf(state)) + gained;
    return tokens >= static_cast<double>(full) ? full : static_cast<std::uint64_t>(tokens);
}

}  // namespace

struct SharedBuckets::Header {
    std::uint64_t magic;
    std::uint32_t layout;
    std::uint32_t slots;
    std::atomic<std::uint64_t> evictions;
};

struct SharedBuckets::Slot {
    std::atomic<std::uint64_t> key;    // the key's hash; 0: empty
    std::atomic<std::uint64_t> state;  // see encode()
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "buckets are shared between processes");

Result<std::unique_ptr<SharedBuckets>> SharedBuckets::create(std::uint32_t slots) {
    std::uint32_t count = 1;
    while (count < std::max(slots, kProbe)) count <<= 1;
    auto memory = SharedMemory::create("hotgate-rate-buckets", sizeof(Header) + count * sizeof(Slot),
                                       "rate-limit bucket table of " + std::to_string(count) + " slots");
    if (!memory) return tl::unexpected(memory.error());
    auto* header = static_cast<Header*>(memory->base());  // the memfd starts zeroed: every bucket empty
    header->magic = kMagic;
    header->layout = kLayout;
    header->slots = count;
    return std::unique_ptr<SharedBuckets>(new SharedBuckets(std::move(*memory)));
}

Result<std::unique_ptr<SharedBuckets>> SharedBuckets::attach(UniqueFd fd) {
    const int number = fd.get();
    auto memory = SharedMemory::attach(std::move(fd), "rate-limit bucket table");
    if (!memory) return tl::unexpected(memory.error());
    const auto* header = static_cast<const Header*>(memory->base());
    if (memory->bytes() < sizeof(Header) || header->magic != kMagic || header->layout != kLayout ||
        memory->bytes() != sizeof(Header) + std::size_t{header->slots} * sizeof(Slot))
        return fail("fd ", number, " is not a rate-limit bucket table of layout ", kLayout);
    return std::unique_ptr<SharedBuckets>(new SharedBuckets(std::move(*memory)));
}

SharedBuckets::SharedBuckets(SharedMemory memory)
    : memory_(std::move(memory)),
      header_(static_cast<Header*>(memory_.base())),
      slots_begin_(reinterpret_cast<Slot*>(static_cast<char*>(memory_.base()) + sizeof(Header))),
      slots_(header_->slots) {}

std::uint64_t SharedBuckets::evictions() const { return header_->evictions.load(std::memory_order_relaxed); }

std::uint64_t SharedBuckets::nowMs() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000 + static_cast<std::uint64_t>(ts.tv_nsec) / 1'000'000;
}

SharedBuckets::Slot* SharedBuckets::find(std::uint64_t key_hash) const {
    for (unsigned i = 0; i < kProbe; ++i) {
        Slot& slot = slots_begin_[(key_hash + i) & (slots_ - 1)];
        if (slot.key.load(std::memory_order_acquire) == key_hash) return &slot;
    }
    return nullptr;
}

SharedBuckets::Slot& SharedBuckets::claim(std::uint64_t key_hash, std::uint64_t now_ms) {
    for (;;) {
        Slot* oldest = nullptr;
        std::uint64_t oldest_ms = now_ms + 1;
        for (unsigned i = 0; i < kProbe; ++i) {
            Slot& slot = slots_begin_[(key_hash + i) & (slots_ - 1)];
            std::uint64_t key = slot.key.load(std::memory_order_acquire);
            if (key == key_hash) return slot;  // claimed meanwhile
            if (key == 0 && slot.key.compare_exchange_strong(key, key_hash, std::memory_order_acq_rel)) return slot;
            const std::uint64_t used = msOf(slot.state.load(std::memory_order_relaxed));
            if (used < oldest_ms) {
                oldest = &slot;
                oldest_ms = used;
            }
        }
        if (!oldest) continue;  // every slot is in use this very millisecond: look again
        std::uint64_t evicted = oldest->key.load(std::memory_order_acquire);
        if (evicted != 0 && oldest->key.compare_exchange_strong(evicted, key_hash, std::memory_order_acq_rel)) {
            oldest->state.store(0, std::memory_order_release);  // a full bucket for the new key
            header_->evictions.fetch_add(1, std::memory_order_relaxed);
            return *oldest;
        }
    }
}

bool SharedBuckets::take(std::uint64_t key_hash, const BucketLimit& limit, std::uint64_t now_ms) {
    Slot* slot = find(key_hash);
    if (!slot) slot = &claim(key_hash, now_ms);
    std::uint64_t state = slot->state.load(std::memory_order_acquire);
    for (;;) {
        const std::uint64_t tokens = refilled(state, limit, now_ms);
        if (tokens < kOne) return false;
        const std::uint64_t next = encode(tokens - kOne, std::max(now_ms, msOf(state)));
        if (slot->state.compare_exchange_weak(state, next, std::memory_order_acq_rel)) return true;
    }
}

std::uint64_t SharedBuckets::msUntilToken(std::uint64_t key_hash, const BucketLimit& limit,
                                          std::uint64_t now_ms) const {
    const Slot* slot = find(key_hash);
    if (!slot) return 0;
    const std::uint64_t tokens = refilled(slot->state.load(std::memory_order_acquire), limit, now_ms);
    if (tokens >= kOne || limit.rate <= 0) return 0;
    return static_cast<std::uint64_t>(std::ceil(static_cast<double>(kOne - tokens) * 1000.0 / (limit.rate * kOne)));
}

}  // namespace hotgate::protection

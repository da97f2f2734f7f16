// The hashes behind load-balancing placement. Every value here is part of the placement of keys
// on endpoints: a process, a worker and the next release must compute the same numbers, so the
// function (XXH64) and the seeds are fixed and never come from the process.
#pragma once

#include <cstdint>
#include <string_view>

namespace hotgate::lb {

// The hash of a request's balancing key (a header value, a client address, ...), which
// MaglevTable::pick and RingHashTable::pick take. XXH64 with a fixed seed: the same bytes hash
// the same on every machine, in every process and in every version.
std::uint64_t hashKey(std::string_view request_key);

// XXH64 of `bytes` with `seed`: what the tables hash endpoint keys with. Same promise as hashKey.
std::uint64_t seededHash(std::string_view bytes, std::uint64_t seed);

}  // namespace hotgate::lb

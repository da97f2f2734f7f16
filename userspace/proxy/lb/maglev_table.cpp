#include "proxy/lb/maglev_table.h"

#include <algorithm>
#include <limits>

#include "proxy/lb/key_hash.h"

namespace hotgate::lb {
namespace {

// The seeds of an endpoint's permutation (offset, skip). Changing either moves keys across an
// upgrade.
constexpr std::uint64_t kOffsetSeed = 0;
constexpr std::uint64_t kSkipSeed = 1;

constexpr std::uint32_t kEmptySlot = std::numeric_limits<std::uint32_t>::max();

// An endpoint while the table fills: where its permutation stands and when its next turn is due.
struct Filler {
    std::uint32_t endpoint;  // index into the caller's endpoints
    std::uint64_t weight;
    std::uint64_t skip;       // in [1, table_size - 1]: coprime with the prime table_size
    std::uint64_t next_slot;  // the endpoint's next preferred slot, maybe taken already
    std::uint64_t turn_due = 0;
};

}  // namespace

Result<MaglevTable> MaglevTable::build(std::span<const WeightedEndpoint> endpoints, std::uint64_t table_size) {
    if (table_size > kMaxTableSize)
        return fail("maglev table: table size ", table_size, " is above the limit ", kMaxTableSize);
    if (!isPrime(table_size))
        return fail("maglev table: table size ", table_size, " is not a prime (try 65537, 655373 or 5000011)");
    auto order = canonicalOrder(endpoints, "maglev table");
    if (!order) return tl::unexpected(order.error());

    std::vector<Filler> fillers;
    std::uint64_t max_weight = 0;
    for (std::uint32_t index : *order) {
        const WeightedEndpoint& endpoint = endpoints[index];
        if (endpoint.weight == 0) continue;
        const std::uint64_t offset = seededHash(endpoint.key, kOffsetSeed) % table_size;
        const std::uint64_t skip = seededHash(endpoint.key, kSkipSeed) % (table_size - 1) + 1;
        fillers.push_back(Filler{index, endpoint.weight, skip, offset});
        max_weight = std::max<std::uint64_t>(max_weight, endpoint.weight);
    }
    if (table_size < fillers.size())
        return fail("maglev table: table size ", table_size, " is below the ", fillers.size(),
                    " endpoints with a weight above 0 (each needs a slot)");

    std::vector<WeightedEndpoint> kept(endpoints.begin(), endpoints.end());
    if (fillers.empty()) return MaglevTable(std::move(kept), {}, table_size);

    // Section 3.4's population loop: endpoints take turns, in canonical order, and each turn
    // claims the endpoint's next preferred slot that is still free. Weights change how often an
    // endpoint's turn comes, as Envoy's maglev does: in round r an endpoint of weight w takes its
    // turn when r * w has reached turn_due, which then grows by the largest weight. The heaviest
    // endpoints take a turn every round, one of weight w about w / max_weight of the rounds, and
    // every endpoint one in round 1 (so each owns a slot). Integers only: no rounding to differ.
    // Rounds are at most table_size (the heaviest claims a slot in each): r * w < 2^23 * 2^32.
    std::vector<std::uint32_t> slots(table_size, kEmptySlot);
    std::uint64_t filled = 0;
    for (std::uint64_t round = 1; filled < table_size; ++round) {
        for (Filler& filler : fillers) {
            if (round * filler.weight < filler.turn_due) continue;
            filler.turn_due += max_weight;
            // The table is not full, and the permutation visits every slot: this ends.
            while (slots[filler.next_slot] != kEmptySlot)
                filler.next_slot = (filler.next_slot + filler.skip) % table_size;
            slots[filler.next_slot] = filler.endpoint;
            filler.next_slot = (filler.next_slot + filler.skip) % table_size;
            if (++filled == table_size) break;
        }
    }
    return MaglevTable(std::move(kept), std::move(slots), table_size);
}

}  // namespace hotgate::lb

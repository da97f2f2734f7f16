#include "proxy/lb/ring_hash_table.h"

#include <algorithm>
#include <tuple>

#include "proxy/lb/key_hash.h"

namespace hotgate::lb {
namespace {

// Scales s tried by build(): at -32 every weight (below 2^32) rounds to one point; at 23 any
// weight reaches kRingSizeLimit (2^23).
constexpr int kLowestScale = -32;
constexpr int kHighestScale = 23;

// The points of an endpoint of weight `weight` at scale s: weight * 2^s, for s < 0 rounded to
// the nearest and at least one; none for weight 0.
std::uint64_t pointsAt(std::uint32_t weight, int scale) {
    if (weight == 0) return 0;
    if (scale >= 0) return std::uint64_t{weight} << scale;
    const int shift = -scale;
    const std::uint64_t rounded = (std::uint64_t{weight} + (std::uint64_t{1} << (shift - 1))) >> shift;
    return std::max<std::uint64_t>(rounded, 1);
}

// Ring size at scale s. Never overflows as build() calls it: it starts at kLowestScale (one
// point per endpoint, at most kRingSizeLimit) and raises s only while the ring is below
// min_ring, and a step at most doubles the ring.
std::uint64_t ringSizeAt(std::span<const WeightedEndpoint> endpoints, int scale) {
    std::uint64_t total = 0;
    for (const WeightedEndpoint& endpoint : endpoints) total += pointsAt(endpoint.weight, scale);
    return total;
}

struct Point {
    std::uint64_t hash;
    std::uint32_t rank;   // the owner's place in canonical order: breaks hash ties the same way
    std::uint32_t owner;  // index into the caller's endpoints
};

}  // namespace

Result<RingHashTable> RingHashTable::build(std::span<const WeightedEndpoint> endpoints, std::size_t min_ring,
                                           std::size_t max_ring) {
    if (max_ring > kRingSizeLimit)
        return fail("ring hash: maximum ring size ", max_ring, " is above the limit ", kRingSizeLimit);
    if (min_ring == 0 || min_ring > max_ring)
        return fail("ring hash: minimum ring size ", min_ring, " must be at least 1 and at most the maximum ring size ",
                    max_ring);
    auto order = canonicalOrder(endpoints, "ring hash");
    if (!order) return tl::unexpected(order.error());
    const auto weighted = static_cast<std::size_t>(
        std::count_if(endpoints.begin(), endpoints.end(), [](const WeightedEndpoint& e) { return e.weight > 0; }));
    if (weighted > max_ring)
        return fail("ring hash: maximum ring size ", max_ring, " is below the ", weighted,
                    " endpoints with a weight above 0 (each needs a point)");

    std::vector<WeightedEndpoint> kept(endpoints.begin(), endpoints.end());
    if (weighted == 0) return RingHashTable(std::move(kept), {}, {});

    int scale = kLowestScale;
    while (scale < kHighestScale && ringSizeAt(endpoints, scale) < min_ring) ++scale;
    // At kLowestScale the ring is `weighted` points, within max_ring: this stops there at worst.
    while (ringSizeAt(endpoints, scale) > max_ring) --scale;

    std::vector<Point> points;
    points.reserve(ringSizeAt(endpoints, scale));
    for (std::uint32_t rank = 0; rank < order->size(); ++rank) {
        const std::uint32_t owner = (*order)[rank];
        const WeightedEndpoint& endpoint = endpoints[owner];
        const std::uint64_t count = pointsAt(endpoint.weight, scale);
        for (std::uint64_t j = 0; j < count; ++j) points.push_back(Point{seededHash(endpoint.key, j), rank, owner});
    }
    std::sort(points.begin(), points.end(),
              [](const Point& a, const Point& b) { return std::tie(a.hash, a.rank) < std::tie(b.hash, b.rank); });

    std::vector<std::uint64_t> hashes(points.size());
    std::vector<std::uint32_t> owners(points.size());
    for (std::size_t i = 0; i < points.size(); ++i) {
        hashes[i] = points[i].hash;
        owners[i] = points[i].owner;
    }
    return RingHashTable(std::move(kept), std::move(hashes), std::move(owners));
}

std::optional<std::size_t> RingHashTable::pick(std::uint64_t key_hash) const {
    if (point_hashes_.empty()) return std::nullopt;
    auto at = std::lower_bound(point_hashes_.begin(), point_hashes_.end(), key_hash);
    if (at == point_hashes_.end()) at = point_hashes_.begin();
    return point_owners_[static_cast<std::size_t>(at - point_hashes_.begin())];
}

}  // namespace hotgate::lb

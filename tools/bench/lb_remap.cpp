// hotgate-lb-remap: how many request keys the consistent-hash tables (proxy/lb/) move to another
// endpoint when one endpoint of N is removed or one is added.
//
//   hotgate-lb-remap [--keys K] [--endpoints 10,100] [--table-size P] [--min-ring M] [--max-ring X]
//
// Keys are "key-<i>" (i < K, default 1,000,000) hashed with lb::hashKey; endpoints are
// "10.0.<i / 256>.<i % 256>:80" (10.0.0.1:80 ...), weight 1. For each N, table and change:
//   remove: every endpoint of 1..N in turn (N trials), against the table of 1..N;
//   add:    each of N+1..2N in turn, added to 1..N (N trials).
// Per trial: moved = keys whose endpoint differs; share = keys on the removed (or added)
// endpoint, the keys that must move; extra = moved - share, keys moved between endpoints that
// stayed. Printed: the mean over trials (moved and extra also their max) and the ideal, 1/N for
// remove and 1/(N+1) for add. Exits 1 if a table fails to build, 2 on bad arguments.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "proxy/lb/key_hash.h"
#include "proxy/lb/maglev_table.h"
#include "proxy/lb/ring_hash_table.h"
#include "proxy/lb/weighted_endpoint.h"

namespace {

using hotgate::lb::MaglevTable;
using hotgate::lb::RingHashTable;
using hotgate::lb::WeightedEndpoint;

struct Options {
    std::uint64_t keys = 1000000;
    std::vector<std::uint32_t> endpoint_counts{10, 100};
    std::uint64_t table_size = MaglevTable::kDefaultTableSize;
    std::size_t min_ring = RingHashTable::kDefaultMinRingSize;
    std::size_t max_ring = RingHashTable::kDefaultMaxRingSize;
};

template <typename T>
T orExit(hotgate::Result<T> r) {
    if (!r) {
        std::fprintf(stderr, "hotgate-lb-remap: %s\n", r.error().what().c_str());
        std::exit(1);
    }
    return std::move(*r);
}

std::string endpointKey(std::uint32_t i) {
    return "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":80";
}

// A table built from the endpoints numbered `ids` (the i of endpointKey), weight 1.
template <typename T>
struct Built {
    T table;
    std::vector<std::uint32_t> ids;  // index given to build() -> endpoint number

    template <typename BuildFn>
    Built(BuildFn build, std::vector<std::uint32_t> endpoint_ids)
        : table(make(build, endpoint_ids)), ids(std::move(endpoint_ids)) {}

    std::size_t size() const {  // slots or ring points
        if constexpr (std::is_same_v<T, MaglevTable>)
            return table.tableSize();
        else
            return table.ringSize();
    }
    // The endpoint number of every key hash.
    void pickAll(const std::vector<std::uint64_t>& hashes, std::vector<std::uint32_t>& out) const {
        out.resize(hashes.size());
        for (std::size_t k = 0; k < hashes.size(); ++k) out[k] = ids[*table.pick(hashes[k])];
    }

private:
    template <typename BuildFn>
    static T make(BuildFn build, const std::vector<std::uint32_t>& endpoint_ids) {
        std::vector<WeightedEndpoint> endpoints;
        for (const std::uint32_t i : endpoint_ids) endpoints.push_back({endpointKey(i), 1});
        return orExit(build(endpoints));
    }
};

// True when a ring's points per endpoint (all weights are 1) differ between two tables.
template <typename T>
bool rescaled(const Built<T>& a, const Built<T>& b) {
    if constexpr (std::is_same_v<T, RingHashTable>)
        return a.size() / a.ids.size() != b.size() / b.ids.size();
    else
        return false;
}

struct Trials {
    double moved = 0, moved_max = 0, share = 0, extra = 0, extra_max = 0;
    std::size_t n = 0;
    bool rescaled = false;  // some trial's ring gave each endpoint another number of points
};

// One trial: `changed` is the endpoint removed or added; base/after are per-key endpoint numbers.
void account(Trials& t, const std::vector<std::uint32_t>& base, const std::vector<std::uint32_t>& after,
             std::uint32_t changed, bool removed) {
    std::uint64_t moved = 0, share = 0;
    for (std::size_t k = 0; k < base.size(); ++k) {
        moved += base[k] != after[k];
        share += (removed ? base[k] : after[k]) == changed;
    }
    const double keys = static_cast<double>(base.size());
    const double extra = static_cast<double>(moved - share) / keys;
    t.moved += static_cast<double>(moved) / keys;
    t.moved_max = std::max(t.moved_max, static_cast<double>(moved) / keys);
    t.share += static_cast<double>(share) / keys;
    t.extra += extra;
    t.extra_max = std::max(t.extra_max, extra);
    ++t.n;
}

template <typename T, typename BuildFn>
void measure(const char* label, BuildFn build, std::uint32_t n, const std::vector<std::uint64_t>& hashes) {
    std::vector<std::uint32_t> all(n);
    for (std::uint32_t i = 0; i < n; ++i) all[i] = i + 1;
    const Built<T> base(build, all);
    std::vector<std::uint32_t> base_picks, picks;
    base.pickAll(hashes, base_picks);

    Trials removal, addition;
    for (std::uint32_t j = 1; j <= n; ++j) {
        std::vector<std::uint32_t> ids = all;
        ids.erase(ids.begin() + (j - 1));
        const Built<T> t(build, std::move(ids));
        t.pickAll(hashes, picks);
        account(removal, base_picks, picks, j, true);
        removal.rescaled |= rescaled(base, t);
    }
    for (std::uint32_t j = n + 1; j <= 2 * n; ++j) {
        std::vector<std::uint32_t> ids = all;
        ids.push_back(j);
        const Built<T> t(build, std::move(ids));
        t.pickAll(hashes, picks);
        account(addition, base_picks, picks, j, false);
        addition.rescaled |= rescaled(base, t);
    }
    const auto row = [&](const char* change, const Trials& t, double ideal) {
        const auto pct = [](double f) { return 100 * f; };
        std::printf("%-9s %4u  %-6s %6zu  %7.3f%% %7.3f%%  %7.3f%%  %7.3f%%  %7.3f%% %7.3f%%  %7zu%s\n", label, n,
                    change, t.n, pct(t.moved / t.n), pct(t.moved_max), pct(ideal), pct(t.share / t.n),
                    pct(t.extra / t.n), pct(t.extra_max), base.size(), t.rescaled ? " (ring rescaled)" : "");
    };
    row("remove", removal, 1.0 / n);
    row("add", addition, 1.0 / (n + 1));
}

bool parseUint(const char* s, std::uint64_t& out) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (end == s || *end != '\0' || s[0] == '-') return false;
    out = v;
    return true;
}

std::optional<Options> parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) return std::nullopt;
        const char* value = argv[++i];
        std::uint64_t v = 0;
        if (arg == "--endpoints") {
            o.endpoint_counts.clear();
            std::string list = value;
            for (std::size_t pos = 0; pos <= list.size();) {
                const std::size_t comma = std::min(list.find(',', pos), list.size());
                if (!parseUint(list.substr(pos, comma - pos).c_str(), v) || v < 2 || v > 30000) return std::nullopt;
                o.endpoint_counts.push_back(static_cast<std::uint32_t>(v));
                pos = comma + 1;
            }
        } else if (!parseUint(value, v)) {
            return std::nullopt;
        } else if (arg == "--keys" && v > 0) {
            o.keys = v;
        } else if (arg == "--table-size") {
            o.table_size = v;
        } else if (arg == "--min-ring") {
            o.min_ring = v;
        } else if (arg == "--max-ring") {
            o.max_ring = v;
        } else {
            return std::nullopt;
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const auto opts = parse(argc, argv);
    if (!opts) {
        std::fprintf(stderr,
                     "usage: hotgate-lb-remap [--keys K] [--endpoints N[,N...]] [--table-size P] [--min-ring M] "
                     "[--max-ring X]\n");
        return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::uint64_t> hashes(opts->keys);
    for (std::uint64_t i = 0; i < opts->keys; ++i) hashes[i] = hotgate::lb::hashKey("key-" + std::to_string(i));

    std::printf(
        "keys: %llu, \"key-<i>\" hashed with lb::hashKey; endpoints: \"10.0.0.<i>:80\" (i >= 256: "
        "10.0.<i/256>.<i%%256>), weight 1\n",
        static_cast<unsigned long long>(opts->keys));
    std::printf("maglev: table_size %llu; ring_hash: min_ring %zu, max_ring %zu\n",
                static_cast<unsigned long long>(opts->table_size), opts->min_ring, opts->max_ring);
    std::printf(
        "remove: each of endpoints 1..N in turn; add: each of N+1..2N in turn to 1..N. Over those trials:\n"
        "  moved: keys whose endpoint changed (mean, max); ideal: 1/N (remove), 1/(N+1) (add);\n"
        "  share: keys on the removed or added endpoint (mean), the ones that must move;\n"
        "  extra: moved - share, keys moved between endpoints that stayed (mean, max); size: slots / ring points "
        "for N.\n\n");
    std::printf("%-9s %4s  %-6s %6s  %17s  %8s  %8s  %17s  %7s\n", "table", "N", "change", "trials", "moved mean max",
                "ideal", "share", "extra mean max", "size");

    const auto maglev = [&](const std::vector<WeightedEndpoint>& eps) {
        return MaglevTable::build(eps, opts->table_size);
    };
    const auto ring = [&](const std::vector<WeightedEndpoint>& eps) {
        return RingHashTable::build(eps, opts->min_ring, opts->max_ring);
    };
    for (const std::uint32_t n : opts->endpoint_counts) {
        measure<MaglevTable>("maglev", maglev, n, hashes);
        measure<RingHashTable>("ring_hash", ring, n, hashes);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("\n(%.1f s)\n", secs);
    return 0;
}

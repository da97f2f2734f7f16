#include "protection/breaker_board.h"

#include <algorithm>
#include <bit>
#include <vector>

namespace hotgate::protection {
namespace {

constexpr std::uint64_t kMagic = 0x686f7467622d6272ULL;
constexpr std::uint32_t kLayout = 1;  // bump when Header or Route change: an older table is then refused

}  // namespace

struct BreakerBoard::Header {
    std::uint64_t magic;
    std::uint32_t layout;
    std::uint32_t routes;
    struct Change {
        std::atomic<std::uint64_t> route_hash;
        std::atomic<std::uint64_t> levels;  // from << 8 | to
        std::atomic<std::uint64_t> unix_ms;  // 0: not written yet
    };
    std::atomic<std::uint64_t> changes_written;
    std::array<Change, kChangeLog> changes;
};

struct BreakerBoard::Route {
    std::atomic<std::uint64_t> key;  // the route name's hash; 0: empty
    // Counted by every process serving the route.
    std::atomic<std::uint64_t> offered;
    std::array<std::atomic<std::uint64_t>, LatencyBins::kCount> latency;
    // The claim of the next sample: the time of the last one (0: none yet).
    std::atomic<std::uint64_t> sampled_at_ms;
    // Published by the sampler.
    std::atomic<std::uint32_t> level;
    std::atomic<std::uint32_t> both_over;
    std::atomic<std::uint64_t> qps_ratio_bits;  // double
    std::atomic<std::int64_t> p95_delta_us;
    std::atomic<std::uint32_t> qps_over;
    std::atomic<std::uint32_t> p95_over;
    std::atomic<std::uint64_t> level_changes;
    std::atomic<std::uint64_t> last_change_unix_ms;
    // The sampler's own, written only under the claim.
    std::uint64_t last_offered;
    std::array<std::uint64_t, LatencyBins::kCount> last_latency;
    std::array<BreakerSample, kMaxBreakerSamples> history;
    std::uint32_t history_next;
    std::uint32_t history_count;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "breakers are shared between processes");

Result<std::unique_ptr<BreakerBoard>> BreakerBoard::create() {
    auto memory = SharedMemory::create("hotgate-breakers", sizeof(Header) + kRoutes * sizeof(Route),
                                       "circuit breaker table");
    if (!memory) return tl::unexpected(memory.error());
    auto* header = static_cast<Header*>(memory->base());  // the memfd starts zeroed: every entry empty
    header->magic = kMagic;
    header->layout = kLayout;
    header->routes = kRoutes;
    return std::unique_ptr<BreakerBoard>(new BreakerBoard(std::move(*memory)));
}

Result<std::unique_ptr<BreakerBoard>> BreakerBoard::attach(UniqueFd fd) {
    const int number = fd.get();
    auto memory = SharedMemory::attach(std::move(fd), "circuit breaker table");
    if (!memory) return tl::unexpected(memory.error());
    const auto* header = static_cast<const Header*>(memory->base());
    if (memory->bytes() != sizeof(Header) + kRoutes * sizeof(Route) || header->magic != kMagic ||
        header->layout != kLayout || header->routes != kRoutes)
        return fail("fd ", number, " is not a circuit breaker table of layout ", kLayout, " (", memory->bytes(),
                    " bytes)");
    return std::unique_ptr<BreakerBoard>(new BreakerBoard(std::move(*memory)));
}

BreakerBoard::BreakerBoard(SharedMemory memory)
    : memory_(std::move(memory)),
      header_(static_cast<Header*>(memory_.base())),
      routes_(reinterpret_cast<Route*>(static_cast<char*>(memory_.base()) + sizeof(Header))) {}

BreakerBoard::Route* BreakerBoard::route(std::uint64_t name_hash) {
    for (unsigned i = 0; i < kProbe; ++i) {
        Route& entry = routes_[(name_hash + i) % kRoutes];
        std::uint64_t key = entry.key.load(std::memory_order_acquire);
        if (key == name_hash) return &entry;
        if (key == 0 && entry.key.compare_exchange_strong(key, name_hash, std::memory_order_acq_rel)) return &entry;
        if (key == name_hash) return &entry;  // claimed by another process meanwhile
    }
    return nullptr;
}

void BreakerBoard::countOffered(Route& route) { route.offered.fetch_add(1, std::memory_order_relaxed); }

void BreakerBoard::countAnswered(Route& route, std::uint64_t micros) {
    route.latency[LatencyBins::binOf(micros)].fetch_add(1, std::memory_order_relaxed);
}

BreakerLevel BreakerBoard::level(const Route& route) {
    return static_cast<BreakerLevel>(route.level.load(std::memory_order_relaxed));
}

std::optional<BreakerBoard::Change> BreakerBoard::sample(Route& route, const CircuitBreakerConfig& config,
                                                         std::uint64_t now_ms, std::uint64_t unix_ms) {
    std::uint64_t last = route.sampled_at_ms.load(std::memory_order_acquire);
    const auto interval = static_cast<std::uint64_t>(config.sample_interval.count());
    if (last != 0 && now_ms < last + interval) return std::nullopt;
    if (!route.sampled_at_ms.compare_exchange_strong(last, now_ms, std::memory_order_acq_rel)) return std::nullopt;

    // Deltas since the last sample (the first claim only sets the starting point).
    const std::uint64_t offered_now = route.offered.load(std::memory_order_relaxed);
    std::array<std::uint64_t, LatencyBins::kCount> bins{};
    std::uint64_t answered = 0;
    for (std::size_t b = 0; b < bins.size(); ++b) {
        const std::uint64_t total = route.latency[b].load(std::memory_order_relaxed);
        bins[b] = total - route.last_latency[b];
        route.last_latency[b] = total;
        answered += bins[b];
    }
    const std::uint64_t offered = offered_now - route.last_offered;
    route.last_offered = offered_now;
    if (last == 0) return std::nullopt;

    BreakerSample current;
    current.taken_at_ms = now_ms;
    current.interval_ms = static_cast<std::uint32_t>(std::min<std::uint64_t>(now_ms - last, UINT32_MAX));
    current.offered = offered;
    current.answered = answered;
    if (answered > 0) {
        const std::uint64_t rank = (answered * 95 + 99) / 100;  // the 95th percentile's position, from 1
        std::uint64_t seen = 0;
        for (std::size_t b = 0; b < bins.size(); ++b) {
            seen += bins[b];
            if (seen >= rank) {
                current.p95_us = LatencyBins::upperBound(b);
                break;
            }
        }
    }
    const std::size_t held = std::min<std::size_t>(route.history_count, route.history.size());
    std::vector<BreakerSample> history(route.history.begin(), route.history.begin() + static_cast<std::ptrdiff_t>(held));
    BreakerSignals signals = signalsOf(current, history, config);
    if (signals.p95_unknown) signals.p95_over = route.p95_over.load(std::memory_order_relaxed) != 0;
    const BreakerState before{level(route), route.both_over.load(std::memory_order_relaxed)};
    const BreakerState after = step(before, signals);
    current.level = after.level;
    route.history[route.history_next % route.history.size()] = current;
    route.history_next = (route.history_next + 1) % static_cast<std::uint32_t>(route.history.size());
    route.history_count = std::min<std::uint32_t>(route.history_count + 1, kMaxBreakerSamples);

    route.qps_ratio_bits.store(std::bit_cast<std::uint64_t>(signals.qps_ratio), std::memory_order_relaxed);
    route.p95_delta_us.store(signals.p95_delta_us, std::memory_order_relaxed);
    route.qps_over.store(signals.qps_over ? 1 : 0, std::memory_order_relaxed);
    route.p95_over.store(signals.p95_over ? 1 : 0, std::memory_order_relaxed);
    route.both_over.store(after.both_over, std::memory_order_relaxed);
    if (after.level == before.level) return std::nullopt;
    route.level.store(static_cast<std::uint32_t>(after.level), std::memory_order_relaxed);
    route.level_changes.fetch_add(1, std::memory_order_relaxed);
    route.last_change_unix_ms.store(unix_ms, std::memory_order_relaxed);
    logChange(route.key.load(std::memory_order_relaxed), before.level, after.level, unix_ms);
    return Change{before.level, after.level, signals};
}

void BreakerBoard::logChange(std::uint64_t route_hash, BreakerLevel from, BreakerLevel to, std::uint64_t unix_ms) {
    const std::uint64_t at = header_->changes_written.fetch_add(1, std::memory_order_acq_rel);
    auto& slot = header_->changes[at % kChangeLog];
    slot.unix_ms.store(0, std::memory_order_release);  // a reader skips it while it changes
    slot.route_hash.store(route_hash, std::memory_order_relaxed);
    slot.levels.store(static_cast<std::uint64_t>(from) << 8 | static_cast<std::uint64_t>(to),
                      std::memory_order_relaxed);
    slot.unix_ms.store(unix_ms == 0 ? 1 : unix_ms, std::memory_order_release);
}

std::vector<BreakerBoard::LoggedChange> BreakerBoard::changes() const {
    const std::uint64_t written = header_->changes_written.load(std::memory_order_acquire);
    const std::uint64_t first = written > kChangeLog ? written - kChangeLog : 0;
    std::vector<LoggedChange> out;
    for (std::uint64_t i = first; i < written; ++i) {
        const auto& slot = header_->changes[i % kChangeLog];
        const std::uint64_t at = slot.unix_ms.load(std::memory_order_acquire);
        if (at == 0) continue;
        const std::uint64_t levels = slot.levels.load(std::memory_order_relaxed);
        out.push_back({slot.route_hash.load(std::memory_order_relaxed), static_cast<BreakerLevel>((levels >> 8) & 0xff),
                       static_cast<BreakerLevel>(levels & 0xff), at});
    }
    return out;
}

BreakerBoard::View BreakerBoard::view(const Route& route) {
    View out;
    out.level = level(route);
    out.signals.qps_ratio = std::bit_cast<double>(route.qps_ratio_bits.load(std::memory_order_relaxed));
    out.signals.p95_delta_us = route.p95_delta_us.load(std::memory_order_relaxed);
    out.signals.qps_over = route.qps_over.load(std::memory_order_relaxed) != 0;
    out.signals.p95_over = route.p95_over.load(std::memory_order_relaxed) != 0;
    out.level_changes = route.level_changes.load(std::memory_order_relaxed);
    out.last_change_unix_ms = route.last_change_unix_ms.load(std::memory_order_relaxed);
    return out;
}

}  // namespace hotgate::protection

// BreakerBoard: the circuit breaker of every route (breaker_levels.h) in a memory-backed table
// that every worker of a process and the next version of the gateway map, like the rate-limit
// buckets (shared_buckets.h): the successor gets its fd at the handover. Both versions count
// the requests they serve into the same route entry during an overlap, and whichever process
// claims a route's next sample (compare-and-swap on its time) takes it for both, so a version
// that takes over in the middle of an incident starts at the incident's level with its baseline.
//
// A route's entry is found by the hash of its name. Counting is lock-free (relaxed atomic adds);
// the sample history is written only by the process holding the current sample's claim.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "protection/shared_memory.h"
#include "config/config.h"
#include "protection/breaker_levels.h"
#include "protection/latency_bins.h"

namespace hotgate::protection {

class BreakerBoard {
public:
    struct Route;  // one route's entry, in the shared table

    // What the sampler last found for a route (metrics, /status, gwctl top).
    struct View {
        BreakerLevel level = BreakerLevel::L0;
        BreakerSignals signals;
        std::uint64_t level_changes = 0;     // since the table was made (by any version)
        std::uint64_t last_change_unix_ms = 0;  // wall clock of the last level change; 0: none
    };

    static constexpr std::uint32_t kRoutes = 1024;  // entries; a route past them has no breaker
    static constexpr unsigned kProbe = 16;

    static Result<std::unique_ptr<BreakerBoard>> create();
    // Maps the table behind `fd` (from create() of this or an earlier version).
    static Result<std::unique_ptr<BreakerBoard>> attach(UniqueFd fd);
    BreakerBoard(const BreakerBoard&) = delete;
    BreakerBoard& operator=(const BreakerBoard&) = delete;

    // The entry of the route whose name hashes to `name_hash` (never 0), made on first use;
    // null when the table has no room for it. Not for the request path (cache it per snapshot).
    Route* route(std::uint64_t name_hash);

    // Request path: one request reached the route; one was answered in `micros`.
    static void countOffered(Route& route);
    static void countAnswered(Route& route, std::uint64_t micros);
    static BreakerLevel level(const Route& route);

    // Takes the route's next sample if `config.sample_interval` has passed since the last one
    // (by any process) and this process wins the claim. Returns the level change, if any.
    struct Change {
        BreakerLevel from;
        BreakerLevel to;
        BreakerSignals signals;
    };
    std::optional<Change> sample(Route& route, const CircuitBreakerConfig& config, std::uint64_t now_ms,
                                 std::uint64_t unix_ms);

    static View view(const Route& route);

    // The last kChangeLog level changes of every route, oldest first (the dashboard's marks).
    static constexpr std::size_t kChangeLog = 64;
    struct LoggedChange {
        std::uint64_t route_hash = 0;
        BreakerLevel from = BreakerLevel::L0;
        BreakerLevel to = BreakerLevel::L0;
        std::uint64_t unix_ms = 0;
    };
    std::vector<LoggedChange> changes() const;

    int fd() const { return memory_.fd(); }

private:
    struct Header;
    explicit BreakerBoard(SharedMemory memory);

    void logChange(std::uint64_t route_hash, BreakerLevel from, BreakerLevel to, std::uint64_t unix_ms);

    SharedMemory memory_;
    Header* header_;
    Route* routes_;
};

}  // namespace hotgate::protection

// health: the TCP health profile (bpf/health.bpf.c): what counts as a spike, over which window.
#include "config/schema/tables.h"

namespace hotgate::schema {

Table<HealthConfig> healthTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"enabled", &HealthConfig::enabled, Boolean{}, "true", NewVersion,
         "load the health profile: handshake and connect latencies per version"},
        {"spike_threshold", &HealthConfig::spike_threshold, Duration{}, "200ms", NewVersion,
         "a handshake or connect slower than this is a spike"},
        {"spike_p99_factor", &HealthConfig::spike_p99_factor, Number{0, 1000}, "4", NewVersion,
         "... and so is one slower than this many times the rolling p99 (0: off)"},
        {"spike_floor", &HealthConfig::spike_floor, Duration{}, "5ms", NewVersion,
         "the p99-relative threshold never goes below this"},
        {"window", &HealthConfig::window, Duration{}, "60s", NewVersion, "rolling window of the p50 and p99"},
    }};
}

}  // namespace hotgate::schema

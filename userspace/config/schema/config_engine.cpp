// config_engine: how a live config change (gwctl config apply, SIGHUP) is verified, and when it
// is rolled back (control/config_engine.h).
#include "config/schema/tables.h"

namespace hotgate::schema {

Table<ConfigEngineConfig> configEngineTable() {
    using enum Applies;
    return {{
        // key, member, type and bounds, default, applies, doc
        {"verification_window", &ConfigEngineConfig::verification_window, Duration{}, "10s", InPlace,
         "after a change, watch the affected routes this long"},
        {"max_5xx_ratio_increase", &ConfigEngineConfig::max_5xx_ratio_increase, Number{0, 1}, "0.05", InPlace,
         "roll back if their share of 5xx answers rises by more than this"},
        {"p99_factor", &ConfigEngineConfig::p99_factor, Number{0, 1000}, "3", InPlace,
         "... or if their p99 exceeds this many times the p99 before (0: off)"},
        {"p99_floor", &ConfigEngineConfig::p99_floor, Duration{}, "10ms", InPlace,
         "the p99 before counts as at least this (tiny p99s are noise)"},
        {"min_requests", &ConfigEngineConfig::min_requests, Integer{1, 1'000'000}, "20", InPlace,
         "fewer answers than this in the window: no verdict on them"},
        {"history", &ConfigEngineConfig::history, Integer{1, 1000}, "10", InPlace,
         "snapshots kept for gwctl config rollback and history"},
    }};
}

}  // namespace hotgate::schema

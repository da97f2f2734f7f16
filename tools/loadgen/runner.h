// Runner: runs one load test: --threads workers, each with its own io_context, Recorder and
// share of the three kinds of traffic, plus a reporter on the calling thread that prints one
// line per second. Returns when every worker has finished (the run ends by itself).
#pragma once

#include <iosfwd>
#include <vector>

#include "options.h"
#include "recorder.h"

namespace hotgate::loadgen {

struct RunResult {
    Tally total;
    std::vector<SecondTally> seconds;  // by completion time; trailing empty seconds dropped
    double elapsed_s = 0;              // start to the last worker's end
    bool hard_stopped = false;         // a worker still had work at the safety deadline
};

// Runs the load described by `options` (already validated). Per-second lines go to `progress`
// when it is not null. Throws only on setup failures (threads, descriptors).
RunResult runLoad(const Options& options, std::ostream* progress);

}  // namespace hotgate::loadgen

// NewConnectionLoad: the --rate traffic of one worker. Open loop: request i of the run is due at
// start + i/rate whatever happened to earlier ones; with T threads, this worker owns the requests
// i = thread_index (mod T). Each opens a connection, sends GET with Connection: close, reads the
// whole response and waits for the server's close. Latency runs from the due time, so a late
// start (the client's own lag) is never hidden; a request later than --max-lag-ms, or over
// --max-inflight, is counted skipped instead of sent.
#pragma once

#include <cstdint>
#include <string>

#include "worker_context.h"

namespace hotgate::loadgen {

class NewConnectionLoad {
public:
    NewConnectionLoad(WorkerContext& context, unsigned threads);

    // Runs the timetable to its end and returns once every started request has finished.
    awaitable<void> run();

    // How many requests the whole run schedules (rate x duration), over all threads.
    static std::uint64_t scheduledTotal(const Options& options);

private:
    awaitable<void> request(Clock::time_point due);
    Clock::time_point dueTime(std::uint64_t i) const;

    WorkerContext& context_;
    const unsigned threads_;
    const std::string request_;
    unsigned inflight_ = 0;
    unsigned inflight_cap_ = 0;  // this worker's share of --max-inflight
};

}  // namespace hotgate::loadgen

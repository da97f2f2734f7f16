// WorkerContext: what every traffic coroutine of one worker thread shares: its io_context, the
// options, its Recorder, its random generator and the run's time bounds. Single-threaded.
#pragma once

#include <random>

#include "asio_names.h"
#include "options.h"
#include "recorder.h"

namespace hotgate::loadgen {

struct WorkerContext {
    asio::io_context& io;
    const Options& options;
    Recorder& recorder;
    std::mt19937_64 random;
    Clock::time_point start;
    Clock::time_point end;  // start + --duration: no new request or message after it
    unsigned thread_index = 0;

    Clock::duration timeout() const { return std::chrono::milliseconds(options.timeout_ms); }
};

// Sleeps until `when` (or returns at once if it has passed).
awaitable<void> sleepUntil(Clock::time_point when);

}  // namespace hotgate::loadgen

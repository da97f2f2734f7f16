#include "runner.h"

#include <sys/resource.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <thread>

#include "keepalive_client.h"
#include "new_connection_load.h"
#include "report.h"
#include "stream_client.h"
#include "worker_context.h"

namespace hotgate::loadgen {
namespace {

// Workers start this long after setup so that every thread is running at t=0.
constexpr auto kStartDelay = std::chrono::milliseconds(50);
// A second's line is printed this long after it ends, so late records of it are in.
constexpr auto kLineDelay = std::chrono::milliseconds(100);
// The longest legitimate tail after the end is three timeouts (a stream's last echoes, its
// close handshake, its reader); past that plus this grace, a worker still busy is stopped. It
// should never happen: every step is bounded by --timeout-ms.
constexpr auto kHardStopGrace = std::chrono::seconds(5);

struct Worker {
    std::unique_ptr<Recorder> recorder;
    std::unique_ptr<WorkerContext> context;
    std::unique_ptr<NewConnectionLoad> rate;
    std::vector<std::unique_ptr<KeepaliveClient>> keepalive;
    std::vector<std::unique_ptr<StreamClient>> streams;
    // Declared after what the coroutines use, so it is destroyed first: after a hard stop, the
    // frames it destroys still find their clients and recorder alive.
    asio::io_context io{1};
    std::thread thread;
    std::atomic<bool> done{false};
};

awaitable<void> startAt(Clock::time_point start, awaitable<void> body) {
    co_await sleepUntil(start);
    co_await std::move(body);
}

// Every connection is a descriptor: use the hard limit, not the usual soft 1024.
void raiseDescriptorLimit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
}

void runWorker(Worker& worker) {
    for (;;) {
        try {
            worker.io.run();
            break;
        } catch (const std::exception& e) {
            // A coroutine threw (it should not: errors are codes): log it and keep the rest going.
            std::cerr << "loadgen: worker " << worker.context->thread_index << ": " << e.what() << "\n";
        }
    }
    worker.done = true;
}

}  // namespace

RunResult runLoad(const Options& options, std::ostream* progress) {
    raiseDescriptorLimit();
    const unsigned threads = options.threads;
    const Clock::time_point start = Clock::now() + kStartDelay;
    const Clock::time_point end = start + std::chrono::seconds(options.duration_s);
    const auto timeout = std::chrono::milliseconds(options.timeout_ms);
    // Slots for the run and its longest tail, up to the hard stop.
    const std::size_t slots =
        options.duration_s + static_cast<std::size_t>(std::chrono::ceil<std::chrono::seconds>(timeout).count()) * 3 + 8;

    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned t = 0; t < threads; ++t) {
        auto worker = std::make_unique<Worker>();
        worker->recorder = std::make_unique<Recorder>(start, slots);
        worker->context = std::make_unique<WorkerContext>(WorkerContext{
            worker->io, options, *worker->recorder, std::mt19937_64(options.seed * 1000003 + t), start, end, t});
        WorkerContext& context = *worker->context;
        if (options.rate > 0 && NewConnectionLoad::scheduledTotal(options) > t) {
            worker->rate = std::make_unique<NewConnectionLoad>(context, threads);
            asio::co_spawn(worker->io, worker->rate->run(), asio::detached);
        }
        for (unsigned i = 0; i < options.keepalive; ++i) {
            // Clients go to threads in pairs, so every thread gets busy and paused ones alike.
            if ((i / 2) % threads != t) continue;
            const bool paused = options.keepalive_mode == KeepaliveMode::kPaused ||
                                (options.keepalive_mode == KeepaliveMode::kMixed && i % 2 == 1);
            auto& client = worker->keepalive.emplace_back(std::make_unique<KeepaliveClient>(context, paused));
            asio::co_spawn(worker->io, startAt(start, client->run()), asio::detached);
        }
        for (unsigned i = t; i < options.streams; i += threads) {
            auto& client = worker->streams.emplace_back(std::make_unique<StreamClient>(context));
            asio::co_spawn(worker->io, startAt(start, client->run()), asio::detached);
        }
        workers.push_back(std::move(worker));
    }
    for (auto& worker : workers) worker->thread = std::thread(runWorker, std::ref(*worker));

    RunResult result;
    const Clock::time_point hard_stop = end + 3 * timeout + kHardStopGrace;
    const auto allDone = [&] {
        for (const auto& worker : workers)
            if (!worker->done) return false;
        return true;
    };
    const auto mergedSecond = [&](std::size_t s) {
        SecondTally merged;
        for (const auto& worker : workers) merged.merge(worker->recorder->second(s));
        return merged;
    };
    std::size_t printed = 0;
    while (!allDone()) {
        // A line for each second of the run that is over; the tail is printed once all is done.
        const Clock::time_point now = Clock::now();
        while (printed < options.duration_s && now >= start + std::chrono::seconds(printed + 1) + kLineDelay) {
            if (progress) *progress << secondLine(printed, mergedSecond(printed)) << std::endl;
            ++printed;
        }
        if (now >= hard_stop && !result.hard_stopped) {
            result.hard_stopped = true;
            for (auto& worker : workers) worker->io.stop();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& worker : workers) worker->thread.join();
    result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();

    for (const auto& worker : workers) result.total.merge(worker->recorder->total());
    result.seconds.resize(slots);
    for (std::size_t s = 0; s < slots; ++s) result.seconds[s] = mergedSecond(s);
    // Keep the run's own seconds, and the tail up to the last second that saw anything.
    const auto empty = [](const SecondTally& second) {
        for (const auto& counts : second.outcomes)
            for (const auto n : counts)
                if (n) return false;
        return second.latency.count() == 0;
    };
    while (result.seconds.size() > options.duration_s && empty(result.seconds.back())) result.seconds.pop_back();
    if (progress) {
        for (std::size_t s = printed; s < result.seconds.size(); ++s)
            *progress << secondLine(s, result.seconds[s]) << std::endl;
    }
    return result;
}

}  // namespace hotgate::loadgen

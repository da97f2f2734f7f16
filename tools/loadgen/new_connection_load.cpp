#include "new_connection_load.h"

#include <algorithm>

#include "http_exchange.h"

namespace hotgate::loadgen {

NewConnectionLoad::NewConnectionLoad(WorkerContext& context, unsigned threads)
    : context_(context),
      threads_(threads),
      request_(buildRequest(context.options.target_text, context.options.path, false)),
      inflight_cap_(std::max(1u, context.options.max_inflight / threads)) {}

std::uint64_t NewConnectionLoad::scheduledTotal(const Options& options) {
    return std::uint64_t{options.rate} * options.duration_s;
}

Clock::time_point NewConnectionLoad::dueTime(std::uint64_t i) const {
    // Integer nanoseconds from the start: no drift accumulates over a long run.
    return context_.start + std::chrono::nanoseconds(i * 1'000'000'000ull / context_.options.rate);
}

awaitable<void> NewConnectionLoad::run() {
    const std::uint64_t total = scheduledTotal(context_.options);
    const auto max_lag = std::chrono::milliseconds(context_.options.max_lag_ms);
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor);
    // Finishing means every spawned request completed: they decrement inflight_ and poke the
    // timer; the loop below waits on it after the last scheduled request.
    for (std::uint64_t i = context_.thread_index; i < total; i += threads_) {
        const Clock::time_point due = dueTime(i);
        if (Clock::now() < due) {
            timer.expires_at(due);
            error_code ignored;
            co_await timer.async_wait(withError(ignored));
        }
        const auto late = Clock::now() - due;
        if (late > max_lag) {
            context_.recorder.failure(TrafficKind::kNewConnection, Outcome::kSkipped, "client lagging behind its schedule");
            continue;
        }
        if (inflight_ >= inflight_cap_) {
            context_.recorder.failure(TrafficKind::kNewConnection, Outcome::kSkipped, "too many requests in flight");
            continue;
        }
        context_.recorder.startLag(late);
        ++inflight_;
        asio::co_spawn(executor, request(due), asio::detached);
    }
    while (inflight_ > 0) co_await sleepUntil(Clock::now() + std::chrono::milliseconds(5));
}

awaitable<void> NewConnectionLoad::request(Clock::time_point due) {
    // Decrements on every exit path, including an exception escaping a Beast call.
    struct InflightGuard {
        unsigned& n;
        ~InflightGuard() { --n; }
    } guard{inflight_};
    Recorder& recorder = context_.recorder;
    constexpr TrafficKind kKind = TrafficKind::kNewConnection;

    beast::tcp_stream stream(co_await asio::this_coro::executor);
    stream.expires_after(context_.timeout());
    error_code ec;
    co_await stream.async_connect(context_.options.target, withError(ec));
    if (ec) {
        recorder.failure(kKind, classify(ec, false), describe("connect", ec));
        co_return;
    }
    recorder.connectionOpened(kKind);
    beast::flat_buffer buffer;
    const ExchangeResult result = co_await exchange(stream, buffer, request_);
    if (!result.complete) {
        recorder.failure(kKind, classify(result.ec, false), describe(result.step, result.ec));
        co_return;
    }
    recorder.version(kKind, result.version);
    if (result.responseOutcome() == Outcome::kOk) {
        recorder.ok(kKind, Clock::now() - due);
    } else {
        recorder.failure(kKind, Outcome::kBadStatus, "status " + std::to_string(result.status));
    }
    // Let the server close first, as Connection: close asks, so TIME_WAIT stays on its side and
    // this box's ephemeral ports do not run out at thousands of connections a second.
    stream.expires_after(std::chrono::seconds(1));
    char byte;
    co_await stream.async_read_some(asio::buffer(&byte, 1), withError(ec));
    stream.socket().close(ec);
}

}  // namespace hotgate::loadgen

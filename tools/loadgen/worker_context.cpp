#include "worker_context.h"

namespace hotgate::loadgen {

awaitable<void> sleepUntil(Clock::time_point when) {
    if (Clock::now() >= when) co_return;
    asio::steady_timer timer(co_await asio::this_coro::executor, when);
    error_code ignored;
    co_await timer.async_wait(withError(ignored));
}

}  // namespace hotgate::loadgen

#include "keepalive_client.h"

#include <sys/socket.h>

#include <cerrno>

#include "http_exchange.h"

namespace hotgate::loadgen {
namespace {

// After a failure, wait this long before reconnecting: a dead target must not turn a busy
// client into a tight loop of refused connects.
constexpr auto kRetryDelay = std::chrono::milliseconds(10);

}  // namespace

bool closedWhileIdle(tcp::socket& socket) {
    char byte;
    const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
    // 0: FIN; > 0: bytes nobody asked for (a 408 before closing); < 0: RST or other error.
    return true;
}

KeepaliveClient::KeepaliveClient(WorkerContext& context, bool paused)
    : context_(context),
      paused_(paused),
      request_(buildRequest(context.options.target_text, context.options.path, true)) {}

Clock::duration KeepaliveClient::nextPause() {
    std::uniform_int_distribution<unsigned> pick(context_.options.pause_min_ms, context_.options.pause_max_ms);
    return std::chrono::milliseconds(pick(context_.random));
}

awaitable<void> KeepaliveClient::run() {
    constexpr TrafficKind kKind = TrafficKind::kKeepalive;
    Recorder& recorder = context_.recorder;
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    beast::flat_buffer buffer;
    bool connected = false;
    const auto disconnect = [&] {
        error_code ignored;
        stream.socket().close(ignored);
        buffer.clear();
        connected = false;
    };

    while (Clock::now() < context_.end) {
        if (connected && closedWhileIdle(stream.socket())) {
            recorder.cleanClose(kKind);
            disconnect();
        }
        error_code ec;
        if (!connected) {
            stream.expires_after(context_.timeout());
            co_await stream.async_connect(context_.options.target, withError(ec));
            if (ec) {
                recorder.failure(kKind, classify(ec, false), describe("connect", ec));
                disconnect();
                co_await sleepUntil(std::min(Clock::now() + kRetryDelay, context_.end));
                continue;
            }
            recorder.connectionOpened(kKind);
            connected = true;
        }
        const Clock::time_point started = Clock::now();
        stream.expires_after(context_.timeout());
        const ExchangeResult result = co_await exchange(stream, buffer, request_);
        if (!result.complete) {
            recorder.failure(kKind, classify(result.ec, false), describe(result.step, result.ec));
            disconnect();
            co_await sleepUntil(std::min(Clock::now() + kRetryDelay, context_.end));
            continue;
        }
        recorder.version(kKind, result.version);
        if (result.responseOutcome() == Outcome::kOk) {
            recorder.ok(kKind, Clock::now() - started);
        } else {
            recorder.failure(kKind, Outcome::kBadStatus, "status " + std::to_string(result.status));
        }
        if (!result.keep_alive) {
            // The server announced the close: not a failure, just a new connection next time.
            recorder.cleanClose(kKind);
            disconnect();
        }
        if (paused_) co_await sleepUntil(std::min(Clock::now() + nextPause(), context_.end));
    }
    if (connected) {
        error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        disconnect();
    }
}

}  // namespace hotgate::loadgen

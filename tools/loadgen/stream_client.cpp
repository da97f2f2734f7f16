#include "stream_client.h"

#include <memory>

#include "http_exchange.h"

namespace hotgate::loadgen {
namespace {

constexpr TrafficKind kKind = TrafficKind::kStream;
constexpr auto kReconnectDelay = std::chrono::milliseconds(100);
constexpr std::size_t kSequenceBytes = 8;

std::uint64_t sequenceOf(const std::string& message) {
    std::uint64_t seq = 0;
    for (std::size_t i = 0; i < kSequenceBytes && i < message.size(); ++i)
        seq = (seq << 8) | static_cast<unsigned char>(message[i]);
    return seq;
}

}  // namespace

StreamClient::StreamClient(WorkerContext& context) : context_(context) {}

std::string StreamClient::mismatch(const std::string& expected, const std::string& received) {
    if (expected == received) return {};
    if (received.size() >= kSequenceBytes && sequenceOf(received) != sequenceOf(expected))
        return "seq " + std::to_string(sequenceOf(received)) + " arrived, expected " +
               std::to_string(sequenceOf(expected));
    if (received.size() != expected.size())
        return "length " + std::to_string(received.size()) + " of seq " + std::to_string(sequenceOf(expected)) +
               ", expected " + std::to_string(expected.size());
    std::size_t at = 0;
    while (expected[at] == received[at]) ++at;
    return "byte " + std::to_string(at) + " of seq " + std::to_string(sequenceOf(expected)) + " differs";
}

std::string StreamClient::nextMessage() {
    std::uniform_int_distribution<unsigned> size(1, context_.options.stream_bytes);
    std::string message(kSequenceBytes + size(context_.random), '\0');
    const std::uint64_t seq = sequence_++;
    for (std::size_t i = 0; i < kSequenceBytes; ++i)
        message[i] = static_cast<char>(seq >> (8 * (kSequenceBytes - 1 - i)));
    for (std::size_t i = kSequenceBytes; i < message.size();) {
        std::uint64_t bits = context_.random();
        for (int b = 0; b < 8 && i < message.size(); ++b, ++i, bits >>= 8) message[i] = static_cast<char>(bits);
    }
    return message;
}

awaitable<void> StreamClient::run() {
    while (Clock::now() < context_.end) {
        co_await session();
        if (Clock::now() < context_.end) co_await sleepUntil(std::min(Clock::now() + kReconnectDelay, context_.end));
    }
}

awaitable<void> StreamClient::readEchoes(Socket& ws, std::deque<Sent>& sent, bool& failed, bool& closing) {
    Recorder& recorder = context_.recorder;
    beast::flat_buffer buffer;
    for (;;) {
        error_code ec;
        co_await ws.async_read(buffer, withError(ec));
        if (ec) {
            // After our own close frame, the peer's close ends the read: that is the clean end.
            if (!failed && !(closing && (ec == websocket::error::closed || ec == asio::error::operation_aborted))) {
                failed = true;
                recorder.failure(kKind, Outcome::kStreamBroken, describe("read", ec));
            }
            co_return;
        }
        const std::string received = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        if (failed) continue;
        if (sent.empty()) {
            failed = true;
            recorder.failure(kKind, Outcome::kStreamMismatch, "message arrived that was never sent");
        } else if (std::string why = mismatch(sent.front().message, received); !why.empty()) {
            failed = true;
            recorder.failure(kKind, Outcome::kStreamMismatch, why);
        } else {
            recorder.ok(kKind, Clock::now() - sent.front().at);
            sent.pop_front();
            continue;
        }
        // A mismatched stream is over: drop the connection, the read ends with an error.
        error_code ignored;
        beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
}

awaitable<void> StreamClient::session() {
    Recorder& recorder = context_.recorder;
    auto executor = co_await asio::this_coro::executor;
    Socket ws(executor);
    auto& lowest = beast::get_lowest_layer(ws);
    error_code ec;
    lowest.expires_after(context_.timeout());
    co_await lowest.async_connect(context_.options.target, withError(ec));
    if (ec) {
        recorder.failure(kKind, classify(ec, false), describe("connect", ec));
        co_return;
    }
    recorder.connectionOpened(kKind);
    websocket::response_type response;
    co_await ws.async_handshake(response, context_.options.target_text, context_.options.stream_path, withError(ec));
    if (response.result_int() != 0) recorder.version(kKind, versionOf(response));
    if (ec) {
        Outcome outcome = classify(ec, false);
        if (ec == websocket::error::upgrade_declined) outcome = Outcome::kBadStatus;
        if (outcome == Outcome::kOther) outcome = Outcome::kStreamBroken;
        recorder.failure(kKind, outcome,
                         describe("handshake", ec) + (response.result_int() ? " (status " + std::to_string(response.result_int()) + ")" : ""));
        co_return;
    }
    // From here on, the WebSocket's own timeouts apply; echo timeouts are checked below.
    lowest.expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = context_.timeout();
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws.set_option(timeouts);
    ws.binary(true);

    std::deque<Sent> sent;
    bool failed = false;
    bool closing = false;
    // Boost 1.74 has no awaitable operators: the reader runs as its own coroutine and signals
    // its end by cancelling this timer.
    auto reader_done = std::make_shared<asio::steady_timer>(executor, Clock::time_point::max());
    auto reader_finished = std::make_shared<bool>(false);
    asio::co_spawn(executor, readEchoes(ws, sent, failed, closing), [reader_done, reader_finished](std::exception_ptr) {
        *reader_finished = true;
        reader_done->cancel();
    });

    const auto interval = std::chrono::milliseconds(context_.options.stream_interval_ms);
    Clock::time_point next = Clock::now();
    while (!failed && Clock::now() < context_.end) {
        if (!sent.empty() && Clock::now() - sent.front().at > context_.timeout()) {
            failed = true;
            recorder.failure(kKind, Outcome::kStreamBroken, "echo of seq " + std::to_string(sequenceOf(sent.front().message)) + " timed out");
            break;
        }
        sent.push_back({nextMessage(), Clock::now()});
        co_await ws.async_write(asio::buffer(sent.back().message), withError(ec));
        if (ec) {
            if (!failed) recorder.failure(kKind, Outcome::kStreamBroken, describe("write", ec));
            failed = true;
            break;
        }
        next += interval;
        co_await sleepUntil(std::min(next, context_.end));
    }
    if (!failed) {
        // The run is over: collect the last echoes, then close the way the protocol wants.
        const Clock::time_point give_up = Clock::now() + context_.timeout();
        while (!failed && !sent.empty() && Clock::now() < give_up)
            co_await sleepUntil(Clock::now() + std::chrono::milliseconds(5));
        if (!failed && !sent.empty()) {
            failed = true;
            recorder.failure(kKind, Outcome::kStreamBroken, "echo of seq " + std::to_string(sequenceOf(sent.front().message)) + " timed out");
        }
    }
    if (!failed) {
        closing = true;
        co_await ws.async_close(websocket::close_code::normal, withError(ec));
        if (ec && ec != websocket::error::closed && !failed) {
            failed = true;
            recorder.failure(kKind, Outcome::kStreamBroken, describe("close", ec));
        }
    }
    if (!*reader_finished) {
        // A failed stream may still have its read pending: end it so the reader returns.
        error_code ignored;
        if (failed) lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
        lowest.expires_after(context_.timeout());
        co_await reader_done->async_wait(withError(ignored));
    }
    error_code ignored;
    lowest.socket().close(ignored);
}

}  // namespace hotgate::loadgen

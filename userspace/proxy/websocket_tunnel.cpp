#include "proxy/websocket_tunnel.h"

#include <array>
#include <memory>

namespace hotgate {
namespace {

tcp::socket& tcpOf(TcpOrTlsStream& stream) { return stream.socket(); }

// Half-closes and aborts act on the TCP sockets; on a TLS client the EOF is passed on as a TCP
// FIN without close_notify, which HTTP/1.1 clients of a WebSocket treat as the end anyway.
template <typename From, typename To>
awaitable<void> copyOneWay(From& from, To& to, std::uint64_t& total) {
    std::array<char, 16 * 1024> chunk;
    for (;;) {
        error_code ec;
        const std::size_t n = co_await from.async_read_some(asio::buffer(chunk), withError(ec));
        if (ec) {
            error_code ignored;
            if (ec == asio::error::eof) {
                tcpOf(to).shutdown(tcp::socket::shutdown_send, ignored);  // pass the half-close on
            } else {
                // Reset or abort: the other direction cannot go on meaningfully either.
                tcpOf(from).shutdown(tcp::socket::shutdown_both, ignored);
                tcpOf(to).shutdown(tcp::socket::shutdown_both, ignored);
            }
            co_return;
        }
        co_await asio::async_write(to, asio::buffer(chunk.data(), n), withError(ec));
        if (ec) {
            error_code ignored;
            tcpOf(from).shutdown(tcp::socket::shutdown_both, ignored);
            tcpOf(to).shutdown(tcp::socket::shutdown_both, ignored);
            co_return;
        }
        total += n;
    }
}

}  // namespace

awaitable<TunnelTotals> runTunnel(TcpOrTlsStream& client, TcpOrTlsStream& upstream) {
    auto executor = co_await asio::this_coro::executor;
    auto totals = std::make_shared<TunnelTotals>();
    // Boost 1.74 has no awaitable operators: run one direction as its own coroutine and wait
    // for it on a timer that its completion cancels.
    auto other_done = std::make_shared<asio::steady_timer>(executor, std::chrono::steady_clock::time_point::max());
    auto other_finished = std::make_shared<bool>(false);
    asio::co_spawn(executor, copyOneWay(upstream, client, totals->upstream_to_client),
                   [other_done, other_finished](const std::exception_ptr&) {
                       *other_finished = true;
                       other_done->cancel();
                   });
    co_await copyOneWay(client, upstream, totals->client_to_upstream);
    if (!*other_finished) {
        error_code ignored;
        co_await other_done->async_wait(withError(ignored));
    }
    co_return *totals;
}

}  // namespace hotgate

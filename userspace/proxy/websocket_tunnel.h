// Byte-for-byte tunnel between a client and an upstream after a 101 Switching Protocols
// (WebSocket). The proxy no longer parses anything: each direction is copied until its EOF,
// which is passed on as a half-close; an error on either side ends both.
#pragma once

#include <cstdint>

#include "proxy/asio.h"
#include "proxy/tcp_or_tls_stream.h"

namespace hotgate {

struct TunnelTotals {
    std::uint64_t client_to_upstream = 0;
    std::uint64_t upstream_to_client = 0;
};

// Runs until both directions have ended. Both streams must outlive the returned awaitable.
awaitable<TunnelTotals> runTunnel(TcpOrTlsStream& client, TcpOrTlsStream& upstream);

}  // namespace hotgate

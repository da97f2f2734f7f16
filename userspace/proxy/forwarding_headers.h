// The header fields a proxy owns on the way to the upstream and back: hop-by-hop fields are
// removed (RFC 9110 7.6.1), and the client's address, scheme and host are stated by the gateway
// (X-Forwarded-For/-Proto/-Host and Forwarded, RFC 7239), so a client cannot spoof them to an
// upstream's fraud checks unless it is a trusted proxy. Every request carries an X-Request-Id.
// The rules are listed in docs/framing.md.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "config/cidr.h"
#include "proxy/asio.h"
#include "proxy/http1_framing.h"
#include "proxy/request_trace.h"

namespace hotgate {

// What the gateway knows about the client of one request. The strings are worked out once per
// connection (clientAddressText, forwardedNode) and outlive the call.
struct ClientFacts {
    std::string_view ip;              // "192.0.2.1", "::1"
    std::string_view forwarded_node;  // RFC 7239 node: 192.0.2.1, "[::1]"
    bool tls = false;                 // the listener terminates TLS
    bool trusted = false;             // the peer is in the listener's trusted_proxies
};

// The RFC 7239 node of an address: IPv4 as is, IPv6 bracketed and quoted.
std::string forwardedNode(const asio::ip::address& address);

// The head sent upstream for a client's parsed request, in one pass over its fields:
// - out: hop-by-hop fields and those the client's Connection field names (never Host), and the
//   framing fields; Upgrade stays for a WebSocket handshake (`websocket_upgrade`);
// - the client's X-Forwarded-For/-Proto/-Host and Forwarded, and their underscore spellings
//   (X_Forwarded_For), replaced by the gateway's; from a trusted proxy X-Forwarded-For and
//   Forwarded get this hop appended and its -Proto and -Host stay when present;
// - X-Request-Id kept when one well-formed value, else a new UUID v4;
// - with `trace.enabled`, traceparent: the client's kept when this hop continues its trace
//   without a span, else this hop's (decided into `trace`, request_trace.h); tracestate goes
//   when the trace restarts. Without it both are end-to-end fields, untouched;
// - HTTP/1.1, and the framing of the body as it is sent.
void makeUpstreamHead(http::request_header<>& request, const ClientFacts& client, bool websocket_upgrade,
                      http1::BodyFraming body, RequestTrace& trace);

// Removes the hop-by-hop fields and those the Connection field names (never Host), for a
// response passed to the client. With `keep_upgrade` (a 101 being relayed) Upgrade stays.
template <bool isRequest>
void eraseHopByHop(http::header<isRequest>& header, bool keep_upgrade);

// True when `value` is a usable request id: 1 to 128 token characters (RFC 9110 5.6.2), which
// UUIDs, hex ids and W3C trace ids all are.
bool isWellFormedRequestId(std::string_view value);

// A new random UUID (version 4, RFC 9562), as 36 characters.
std::array<char, 36> newRequestId();

// True when `address` is in one of `ranges`.
bool isTrustedPeer(const asio::ip::address& address, const std::vector<Cidr>& ranges);

}  // namespace hotgate

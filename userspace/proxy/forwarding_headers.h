// The header fields a proxy owns on the way to the upstream and back: hop-by-hop fields are
// removed (RFC 9110 7.6.1), and the client's address, scheme and host are stated by the gateway
// (X-Forwarded-For/-Proto/-Host and Forwarded, RFC 7239), so a client cannot spoof them to an
// upstream's fraud checks unless it is a trusted proxy. Every request carries an X-Request-Id.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/cidr.h"
#include "proxy/asio.h"
#include "proxy/http1_framing.h"

namespace hotgate {

// Removes the hop-by-hop fields and those the Connection field names. With `keep_upgrade`
// (a WebSocket upgrade being forwarded) Upgrade stays. Framing fields are left to
// http1::applyFraming, which replaces them.
template <bool isRequest>
void eraseHopByHop(http::header<isRequest>& header, bool keep_upgrade);

// What the gateway knows about the client of one request.
struct ClientFacts {
    asio::ip::address address;
    bool tls = false;      // the listener terminates TLS
    bool trusted = false;  // the peer is in the listener's trusted_proxies
};

// Sets X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Forwarded. From an untrusted
// peer the client's own values are replaced; from a trusted proxy its X-Forwarded-For and
// Forwarded get this hop appended and its -Proto and -Host are kept when present.
void setForwardingHeaders(http::request_header<>& request, const ClientFacts& client);

// True when `value` is a usable request id: 1 to 128 token characters (RFC 9110 5.6.2), which
// UUIDs, hex ids and W3C trace ids all are.
bool isWellFormedRequestId(std::string_view value);

// Keeps a well-formed X-Request-Id and replaces a missing or malformed one with a new random
// UUID (version 4). Returns the id the request now carries.
std::string ensureRequestId(http::request_header<>& request);

// The head sent upstream for a client's parsed request: hop-by-hop fields out (Upgrade kept for
// a WebSocket handshake), the forwarding fields and X-Request-Id in, HTTP/1.1, and the framing
// of the body as it is sent.
void makeUpstreamHead(http::request_header<>& request, const ClientFacts& client, bool websocket_upgrade,
                      http1::BodyFraming body);

// True when `address` is in one of `ranges`.
bool isTrustedPeer(const asio::ip::address& address, const std::vector<Cidr>& ranges);

}  // namespace hotgate

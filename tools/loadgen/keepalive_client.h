// KeepaliveClient: one --keepalive client: a persistent HTTP/1.1 connection sending requests
// until the end of the run, back-to-back (busy) or after a random pause (paused).
//
// What counts as a failure is exactly what a gateway must never cause: a request that was sent
// and got no complete response (reset, short read, timeout). A connection the server closed
// *between* requests (a response with Connection: close, or a FIN/RST seen before the next
// request is written) is reconnected and counted as a clean close, not a failure.
#pragma once

#include "worker_context.h"

namespace hotgate::loadgen {

class KeepaliveClient {
public:
    KeepaliveClient(WorkerContext& context, bool paused);

    // Sends requests until the end of the run, then closes its connection.
    awaitable<void> run();

private:
    Clock::duration nextPause();

    WorkerContext& context_;
    const bool paused_;
    const std::string request_;
};

// True when the peer has closed (FIN or RST) or sent unsolicited bytes on an idle connection:
// the connection must not carry another request. Never blocks.
bool closedWhileIdle(tcp::socket& socket);

}  // namespace hotgate::loadgen

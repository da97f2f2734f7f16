// ParkedConnections: a worker's plain keep-alive connections idle between requests, each held in
// the least memory the event loop allows: the socket, its listener, the client's address and a
// place in a FIFO of connections with the same idle timeout (so the head is always the next to
// expire), with one timer for them all. A connection whose socket becomes readable leaves to be
// served again (the Wake callback); one that reaches its timeout is closed; a drain closes each
// or hands it to the other version. Worker thread only. See docs/architecture.md (how a request
// flows, step 7) and docs/performance.md (idle keep-alive connections).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>

#include "proxy/asio.h"
#include "proxy/serving_context.h"

namespace hotgate {

class ParkedConnections {
public:
    using Clock = std::chrono::steady_clock;
    // Called, on the worker thread, with a parked connection whose next request has begun
    // arriving (or whose client closed): it is to be served again.
    using Wake = std::function<void(tcp::socket socket, std::size_t listener, std::optional<asio::ip::address> peer)>;

    ParkedConnections(asio::io_context& io, ServingContext& context, Wake wake);
    // Closes the connections still parked. Destroy before the io_context.
    ~ParkedConnections();
    ParkedConnections(const ParkedConnections&) = delete;
    ParkedConnections& operator=(const ParkedConnections&) = delete;

    // Holds `socket` until it is readable or `idle_left` passes. False, with the socket left
    // to the caller, once drain() was called: nothing parks in a draining worker.
    bool park(tcp::socket& socket, std::size_t listener, std::optional<asio::ip::address> peer,
              Clock::duration idle_left);

    // Ends every parked connection: hands each to the other version (`hand_off`, closed when
    // it is refused) or closes it. Later park() calls are refused.
    void drain(bool hand_off);

    std::size_t size() const { return count_; }

private:
    enum class Ending { None, Expired, Close, HandOff };
    struct Entry;
    // An intrusive doubly linked list: an entry is in exactly one (a FIFO or leaving_).
    struct List {
        Entry* head = nullptr;
        Entry* tail = nullptr;
        void pushBack(Entry* entry);
        void erase(Entry* entry);
    };

    void onReadableOrEnded(Entry* entry, const error_code& ec);
    // Moves `entry` to leaving_ with `ending` and cancels its wait, whose handler finishes it.
    void end(Entry* entry, Ending ending);
    void armTimer();
    void onTimer(const error_code& ec);

    ServingContext& context_;
    Wake wake_;
    std::map<Clock::duration, List> waiting_;  // by idle timeout; each in expiry order
    List leaving_;  // ended, their wait's cancellation not yet delivered
    asio::steady_timer timer_;
    Clock::time_point timer_at_ = Clock::time_point::max();
    std::size_t count_ = 0;
    bool draining_ = false;
};

}  // namespace hotgate

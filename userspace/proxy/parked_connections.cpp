#include "proxy/parked_connections.h"

#include <utility>

#include "proxy/connection_hand_off.h"

namespace hotgate {

struct ParkedConnections::Entry {
    Entry(tcp::socket s, std::size_t l, std::optional<asio::ip::address> p, Clock::time_point at)
        : socket(std::move(s)), listener(l), peer(std::move(p)), expires(at) {}
    tcp::socket socket;
    std::size_t listener;
    std::optional<asio::ip::address> peer;
    Clock::time_point expires;
    Ending ending = Ending::None;
    List* list = nullptr;
    Entry* prev = nullptr;
    Entry* next = nullptr;
};

void ParkedConnections::List::pushBack(Entry* entry) {
    entry->list = this;
    entry->prev = tail;
    entry->next = nullptr;
    (tail ? tail->next : head) = entry;
    tail = entry;
}

void ParkedConnections::List::erase(Entry* entry) {
    (entry->prev ? entry->prev->next : head) = entry->next;
    (entry->next ? entry->next->prev : tail) = entry->prev;
    entry->list = nullptr;
    entry->prev = entry->next = nullptr;
}

ParkedConnections::ParkedConnections(asio::io_context& io, ServingContext& context, Wake wake)
    : context_(context), wake_(std::move(wake)), timer_(io) {}

ParkedConnections::~ParkedConnections() {
    // The io_context has stopped: no handler of ours runs again. Close what is left.
    auto release = [this](List& list) {
        while (Entry* entry = list.head) {
            list.erase(entry);
            context_.metrics.activeConnections(entry->listener).Decrement();
            context_.open_connections.fetch_sub(1, std::memory_order_relaxed);
            delete entry;
        }
    };
    for (auto& [timeout, list] : waiting_) release(list);
    release(leaving_);
}

bool ParkedConnections::park(tcp::socket& socket, std::size_t listener, std::optional<asio::ip::address> peer,
                             Clock::duration idle_left) {
    if (draining_) return false;
    auto* entry = new Entry(std::move(socket), listener, std::move(peer), Clock::now() + idle_left);
    waiting_[idle_left].pushBack(entry);
    ++count_;
    // Counted as open while parked: limits.max_connections, /status and the drain see it.
    context_.open_connections.fetch_add(1, std::memory_order_relaxed);
    context_.metrics.activeConnections(listener).Increment();
    entry->socket.async_wait(tcp::socket::wait_read,
                             [this, entry](const error_code& ec) { onReadableOrEnded(entry, ec); });
    if (entry->expires < timer_at_) armTimer();
    return true;
}

void ParkedConnections::drain(bool hand_off) {
    draining_ = true;
    for (auto& [timeout, list] : waiting_)
        while (list.head) end(list.head, hand_off ? Ending::HandOff : Ending::Close);
}

void ParkedConnections::end(Entry* entry, Ending ending) {
    entry->list->erase(entry);
    leaving_.pushBack(entry);
    entry->ending = ending;
    error_code ignored;
    entry->socket.cancel(ignored);
}

void ParkedConnections::onReadableOrEnded(Entry* entry, const error_code& ec) {
    entry->list->erase(entry);
    --count_;
    context_.metrics.activeConnections(entry->listener).Decrement();
    context_.open_connections.fetch_sub(1, std::memory_order_relaxed);
    // A drain that hands connections over takes this one even if its next request has begun:
    // the other version reads it from the socket.
    if (entry->ending == Ending::HandOff) {
        if (!handOverConnection(context_, entry->listener, entry->socket, {})) {
            error_code ignored;
            entry->socket.close(ignored);  // released or not, nothing of it stays here
        }
    } else if (!ec) {
        // Readable: the next request (or the client's close) is there, also when the timeout
        // or a closing drain came in the same instant: it is served, as a read would have been.
        wake_(std::move(entry->socket), entry->listener, std::move(entry->peer));
    } else {
        error_code ignored;
        entry->socket.shutdown(tcp::socket::shutdown_send, ignored);
        entry->socket.close(ignored);
    }
    delete entry;
}

void ParkedConnections::armTimer() {
    Clock::time_point earliest = Clock::time_point::max();
    for (const auto& [timeout, list] : waiting_)
        if (list.head && list.head->expires < earliest) earliest = list.head->expires;
    if (earliest == Clock::time_point::max() || earliest >= timer_at_) return;
    timer_at_ = earliest;
    timer_.expires_at(earliest);
    timer_.async_wait([this](const error_code& ec) { onTimer(ec); });
}

void ParkedConnections::onTimer(const error_code& ec) {
    if (ec == asio::error::operation_aborted) return;  // re-armed earlier meanwhile
    timer_at_ = Clock::time_point::max();
    const auto now = Clock::now();
    for (auto& [timeout, list] : waiting_)
        while (list.head && list.head->expires <= now) end(list.head, Ending::Expired);
    armTimer();
}

}  // namespace hotgate

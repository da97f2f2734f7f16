#include "shadow/shadow_tap.h"

#include <algorithm>

namespace hotgate::shadow {

bool idempotentMethod(std::string_view method) {
    for (std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
        if (method == m) return true;
    return false;
}

bool mirrorable(std::string_view method, bool route_shadow) {
    return route_shadow || method == "GET" || method == "HEAD";
}

void ShadowTap::arm(std::size_t samples, std::vector<std::string> routes) {
    std::lock_guard lock(mutex_);
    wanted_ = samples;
    reserved_ = 0;
    routes_ = std::move(routes);
    queue_.clear();
    armed_.store(samples > 0, std::memory_order_relaxed);
}

void ShadowTap::disarm() {
    std::lock_guard lock(mutex_);
    armed_.store(false, std::memory_order_relaxed);
    wanted_ = 0;
    reserved_ = 0;
    queue_.clear();
    offered_.notify_all();
}

bool ShadowTap::reserve(std::string_view route) {
    std::lock_guard lock(mutex_);
    if (wanted_ == 0) return false;
    if (!routes_.empty() && std::find(routes_.begin(), routes_.end(), route) == routes_.end()) return false;
    --wanted_;
    ++reserved_;
    if (wanted_ == 0) armed_.store(false, std::memory_order_relaxed);
    return true;
}

void ShadowTap::offer(Capture capture) {
    std::lock_guard lock(mutex_);
    if (reserved_ == 0) return;  // disarmed meanwhile
    --reserved_;
    queue_.push_back(std::move(capture));
    offered_.notify_all();
}

void ShadowTap::release() {
    std::lock_guard lock(mutex_);
    if (reserved_ == 0) return;
    --reserved_;
    ++wanted_;  // another request may take its place
    armed_.store(true, std::memory_order_relaxed);
    offered_.notify_all();
}

std::optional<Capture> ShadowTap::next(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    offered_.wait_until(lock, deadline, [&] { return !queue_.empty() || (wanted_ == 0 && reserved_ == 0); });
    if (queue_.empty()) return std::nullopt;
    Capture capture = std::move(queue_.front());
    queue_.pop_front();
    return capture;
}

}  // namespace hotgate::shadow

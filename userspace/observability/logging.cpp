#include "observability/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace hotgate::log {
namespace {

std::atomic<Level> g_minimum{Level::Info};
std::mutex g_write_mutex;

const char* levelName(Level level) {
    switch (level) {
        case Level::Debug: return "debug";
        case Level::Info: return "info";
        case Level::Warn: return "warn";
        case Level::Error: return "error";
    }
    return "?";
}

}  // namespace

void setMinimumLevel(Level level) { g_minimum.store(level); }

void write(Level level, const std::string& message) {
    if (level < g_minimum.load(std::memory_order_relaxed)) return;
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    // One fprintf per line under a mutex so lines from several workers never interleave.
    std::lock_guard lock(g_write_mutex);
    std::fprintf(stderr, "%s.%03dZ %s %s\n", stamp, static_cast<int>(millis), levelName(level),
                 message.c_str());
}

}  // namespace hotgate::log

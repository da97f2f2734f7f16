// Logging: one line per event on stderr, "<UTC time> <level> <message>", safe from any thread.
#pragma once

#include <sstream>
#include <string>
#include <utility>

namespace hotgate::log {

enum class Level { Debug, Info, Warn, Error };

void setMinimumLevel(Level level);
void write(Level level, const std::string& message);

template <typename... Parts>
void emit(Level level, Parts&&... parts) {
    std::ostringstream out;
    (out << ... << std::forward<Parts>(parts));
    write(level, out.str());
}

template <typename... Parts> void debug(Parts&&... p) { emit(Level::Debug, std::forward<Parts>(p)...); }
template <typename... Parts> void info(Parts&&... p) { emit(Level::Info, std::forward<Parts>(p)...); }
template <typename... Parts> void warn(Parts&&... p) { emit(Level::Warn, std::forward<Parts>(p)...); }
template <typename... Parts> void error(Parts&&... p) { emit(Level::Error, std::forward<Parts>(p)...); }

}  // namespace hotgate::log

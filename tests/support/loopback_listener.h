// The listening socket of a test server: TCP on 127.0.0.1, on a port the kernel picks.
#pragma once

#include <cstdint>

namespace hotgate::test {

// Returns the listening fd (close-on-exec) and sets `port`; -1 (nothing left open, errno set)
// when a step fails.
int listenOnLoopback(int backlog, std::uint16_t& port);

}  // namespace hotgate::test

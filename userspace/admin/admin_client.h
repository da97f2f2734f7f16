// A minimal blocking HTTP GET against a hotgate admin endpoint: gwctl, and a successor
// checking its own health, use it.
#pragma once

#include <string>

#include "common/error.h"

namespace hotgate {

struct AdminResponse {
    unsigned status = 0;
    std::string body;
};

// GET `target` from "host:port"; fails with the address and the reason (refused, timeout).
Result<AdminResponse> adminGet(const std::string& address, const std::string& target);

}  // namespace hotgate

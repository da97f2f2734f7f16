// A minimal HTTP GET against hotgate's admin endpoint, for gwctl.
#pragma once

#include <string>

#include "common/error.h"

namespace gwctl {

struct AdminResponse {
    unsigned status = 0;
    std::string body;
};

// GET `target` from "host:port"; fails with the address and the reason (refused, timeout).
hotgate::Result<AdminResponse> adminGet(const std::string& address, const std::string& target);

}  // namespace gwctl

// WeightedEndpoint: one member of the endpoint set a balancing table is built from, and the
// canonical order every table is built in.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace hotgate::lb {

struct WeightedEndpoint {
    std::string key;           // names the endpoint in the hash: "127.0.0.1:9000"
    std::uint32_t weight = 1;  // share of keys relative to the others; 0 takes none
};

// The indices of `endpoints` sorted by key (bytewise): tables are built in this order, so a set
// gives the same table whatever order it is listed in. Fails, naming the endpoints, on an empty
// key, on two endpoints with the same key, on more than 2^32 - 1 endpoints, and when there are
// endpoints but every weight is 0. `table` starts the message ("maglev table: ...").
Result<std::vector<std::uint32_t>> canonicalOrder(std::span<const WeightedEndpoint> endpoints, std::string_view table);

}  // namespace hotgate::lb

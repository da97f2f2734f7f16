#include "proxy/lb/weighted_endpoint.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace hotgate::lb {

Result<std::vector<std::uint32_t>> canonicalOrder(std::span<const WeightedEndpoint> endpoints, std::string_view table) {
    if (endpoints.size() > std::numeric_limits<std::uint32_t>::max())
        return fail(table, ": ", endpoints.size(), " endpoints, at most ", std::numeric_limits<std::uint32_t>::max(),
                    " are supported");
    std::vector<std::uint32_t> order(endpoints.size());
    std::iota(order.begin(), order.end(), 0U);
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return endpoints[a].key < endpoints[b].key; });

    bool any_weight = endpoints.empty();
    for (std::size_t i = 0; i < order.size(); ++i) {
        const WeightedEndpoint& endpoint = endpoints[order[i]];
        if (endpoint.key.empty()) return fail(table, ": endpoint ", order[i], " has an empty key");
        // Sorted, so equal keys are neighbours.
        if (i > 0 && endpoint.key == endpoints[order[i - 1]].key)
            return fail(table, ": endpoints ", std::min(order[i - 1], order[i]), " and ",
                        std::max(order[i - 1], order[i]), " have the same key \"", endpoint.key, "\"");
        any_weight = any_weight || endpoint.weight > 0;
    }
    if (!any_weight)
        return fail(table, ": every endpoint has weight 0 (", endpoints.size(),
                    " endpoints); at least one needs a weight above 0");
    return order;
}

}  // namespace hotgate::lb

// Passing one client connection to the other version at a request boundary (upgrades): the
// socket's fd and the bytes already read from it go through ServingContext::hand_off.
#pragma once

#include <cstddef>
#include <string_view>

#include "proxy/asio.h"
#include "proxy/serving_context.h"

namespace hotgate {

// Gives `socket` of `listener`, with `already_read`, to the other version. The socket is
// released from this process either way (closed when nobody took it): true when it was taken,
// and then counted as handed off.
bool handOverConnection(ServingContext& context, std::size_t listener, tcp::socket& socket,
                        std::string_view already_read);

}  // namespace hotgate

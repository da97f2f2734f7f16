#include "proxy/connection_hand_off.h"

#include <unistd.h>

#include <string>

namespace hotgate {

bool handOverConnection(ServingContext& context, std::size_t listener, tcp::socket& socket,
                        std::string_view already_read) {
    const std::string name = context.current()->config->listeners[listener].name;
    error_code ec;
    const int fd = socket.release(ec);
    if (ec) return false;
    // The receiver gets its own copy of the fd (SCM_RIGHTS); ours is closed either way.
    const bool taken = context.hand_off && context.hand_off(fd, name, std::string(already_read));
    ::close(fd);
    if (taken) {
        context.connections_handed_off.fetch_add(1, std::memory_order_relaxed);
        context.metrics.recordHandedOff(listener);
    }
    return taken;
}

}  // namespace hotgate

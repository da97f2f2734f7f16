#include "control/peer_link.h"

#include <sys/socket.h>

namespace hotgate::control {

bool PeerLink::sendConnection(int fd, const std::string& listener, const std::string& buffered) {
    const int fds[] = {fd};
    return send(MessageType::AdoptConnection, AdoptConnection{listener, buffered}.toJson(), fds).has_value();
}

void PeerLink::shutdown() { ::shutdown(fd_.get(), SHUT_RDWR); }

}  // namespace hotgate::control

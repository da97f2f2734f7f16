#include "control/service_manager.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "observability/logging.h"

namespace hotgate::control::service_manager {
namespace {

// Whether this process is the service's main process, as far as it told the service manager.
std::atomic<bool> is_main_process{false};

// Sends `state` (newline-separated assignments); a failure is a warning naming the socket.
void notify(const std::string& state) {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    if (socket == nullptr || *socket == '\0') return;
    const int sent = ::sd_notify(/*unset_environment=*/0, state.c_str());
    if (sent < 0)
        log::warn("service manager: sd_notify(", state.substr(0, state.find('\n')), ") to NOTIFY_SOCKET=", socket,
                  " failed: ", std::strerror(-sent));
}

}  // namespace

void ready(std::string_view status) {
    is_main_process = true;
    notify("READY=1\nSTATUS=" + std::string(status));
}

void handedTo(pid_t successor) {
    is_main_process = false;
    notify("MAINPID=" + std::to_string(successor));
}

void tookCharge(std::string_view status) {
    is_main_process = true;
    notify("MAINPID=" + std::to_string(::getpid()) + "\nREADY=1\nSTATUS=" + std::string(status));
}

void stopping() {
    if (!is_main_process) return;
    notify("STOPPING=1\nSTATUS=draining");
}

}  // namespace hotgate::control::service_manager

// ServiceManager: what this process tells the service manager that started it, by systemd's
// notify protocol (sd_notify(3) over $NOTIFY_SOCKET; hotgate.service is Type=notify with
// NotifyAccess=all). Every call does nothing when NOTIFY_SOCKET is unset, so a gateway started
// by hand or by a test behaves as before. A failed send is logged (with the socket and errno),
// never fatal: serving matters more than the service manager's view of it.
//
// The moments (main.cpp, GatewayHost):
//   a first version serves            ready()              READY=1
//   a running version commits         handedTo(pid)        MAINPID=<successor>, before it hands over
//   a successor takes charge          tookCharge()         MAINPID=<own pid>, READY=1
//   SIGTERM drain of the main one     stopping()           STOPPING=1
// A version that exits after handing over says nothing: it is no longer the main process.
#pragma once

#include <sys/types.h>

#include <string_view>

namespace hotgate::control::service_manager {

// This process serves as the service's main process: READY=1 with `status` as STATUS=.
void ready(std::string_view status);

// `successor` is the service's main process from now on (MAINPID=). Sent by the running version
// at commit, before it starts handing over and exiting: systemd then follows the successor
// instead of taking this process's exit for the service's end. After it, stopping() is silent.
void handedTo(pid_t successor);

// A successor took charge (committed, or its predecessor died): MAINPID=<own pid> and READY=1.
void tookCharge(std::string_view status);

// The main process drains for SIGTERM/SIGINT: STOPPING=1. Silent in a process that is not the
// main one (a successor not in charge yet, or a version that handed the service over).
void stopping();

}  // namespace hotgate::control::service_manager

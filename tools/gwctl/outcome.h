// How a gwctl command ends, for scripts (docs/operations.md "gwctl at a glance"): its exit
// status, and the one way a failure is told ("gwctl <verb>: <what happened>" on stderr).
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace gwctl {

enum class ExitStatus : int {
    Done = 0,
    Refused = 1,      // the gateway (or etcd) said no, or what was asked failed
    Usage = 2,        // the command line is wrong
    Unreachable = 3,  // no hotgate answers on the control socket or admin port (or etcd)
};

// Prints "gwctl <verb>: <message>" and ends gwctl with `status`.
[[noreturn]] void failWith(std::string_view verb, const std::string& message,
                           ExitStatus status = ExitStatus::Refused);
// Ends gwctl with `status` (a verb that already said why).
[[noreturn]] void exitWith(ExitStatus status);

// The status of a control request that failed on the way (controlRequest's error): the socket
// refused our user is Refused, everything else (no socket, nobody listening, no answer) is
// Unreachable.
ExitStatus statusOfControlError(const hotgate::Error& error);
// failWith for a control request that failed on the way.
[[noreturn]] void failReaching(std::string_view verb, const hotgate::Error& error);

}  // namespace gwctl

#include "outcome.h"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <iostream>

namespace gwctl {

void failWith(std::string_view verb, const std::string& message, ExitStatus status) {
    std::cerr << "gwctl " << verb << ": " << message << "\n";
    exitWith(status);
}

void exitWith(ExitStatus status) { throw CLI::RuntimeError(static_cast<int>(status)); }

ExitStatus statusOfControlError(const hotgate::Error& error) {
    return error.errnum == EACCES || error.errnum == EPERM ? ExitStatus::Refused : ExitStatus::Unreachable;
}

void failReaching(std::string_view verb, const hotgate::Error& error) {
    failWith(verb, error.message, statusOfControlError(error));
}

}  // namespace gwctl

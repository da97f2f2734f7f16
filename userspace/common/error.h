// Error: what failed, on which object, and the errno behind it. Returned (never thrown) by the
// loaders, the config engine and the control plane as tl::expected<T, Error>.
#pragma once

#include <cerrno>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace hotgate {

struct Error {
    std::string message;  // "attach steer_select to listener fd 7: Operation not permitted"
    int errnum = 0;       // 0 when no syscall is behind the failure

    const std::string& what() const { return message; }
};

template <typename T>
using Result = tl::expected<T, Error>;

// Builds an Error from the pieces of a message, without errno.
template <typename... Parts>
tl::unexpected<Error> fail(Parts&&... parts) {
    std::ostringstream out;
    (out << ... << std::forward<Parts>(parts));
    return tl::unexpected(Error{out.str(), 0});
}

// Builds an Error for a failed syscall: "<parts>: <strerror(err)>", with err kept.
// Pass errno captured right after the call (libbpf int calls return -errno: pass -ret).
template <typename... Parts>
tl::unexpected<Error> sysError(int err, Parts&&... parts) {
    std::ostringstream out;
    (out << ... << std::forward<Parts>(parts));
    out << ": " << std::strerror(err);
    return tl::unexpected(Error{out.str(), err});
}

}  // namespace hotgate

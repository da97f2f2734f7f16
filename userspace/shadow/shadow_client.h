// The verifier's side of a shadow path (docs/verification.md): one loopback TCP connection to
// a version, served there as a shadow connection. It sends a mirrored request as the client
// sent it and reads the answer into a shadow::Answer. Blocking; the verifier's thread only.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "shadow/shadow_answer.h"
#include "shadow/shadow_tap.h"

namespace hotgate::shadow {

// A connected loopback TCP pair: `client` for the verifier, `server` for the version to serve.
struct LoopbackPair {
    UniqueFd client;
    UniqueFd server;
};
Result<LoopbackPair> loopbackPair();

class ShadowPath {
public:
    // `open` gives a fresh connection to the version (the client end); called again whenever
    // the last one was closed by an answer or failed.
    using Open = std::function<Result<UniqueFd>()>;
    ShadowPath(std::string version, Open open) : version_(std::move(version)), open_(std::move(open)) {}

    // Sends `capture` and reads the answer within `timeout`; a failure is an Answer with status
    // 0 and the reason. `fields`: the response fields to keep (lower case).
    Answer exchange(const Capture& capture, const std::vector<std::string>& fields, std::chrono::milliseconds timeout);
    const std::string& version() const { return version_; }

private:
    std::string version_;
    Open open_;
    UniqueFd fd_;
};

}  // namespace hotgate::shadow

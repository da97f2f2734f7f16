// NetemClientPath: the client side of a chaos test, in a network namespace of its own joined
// to the caller's namespace by a veth pair, with a netem qdisc on both ends so every packet
// between client and gateway (and only those) is delayed or lost. The caller's thread must
// already be in a namespace the test made (ScopedNetns): no host interface is ever touched.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"

namespace hotgate::test {

class NetemClientPath {
public:
    static constexpr const char* kGatewayAddress = "10.78.0.1";  // the caller's end, "hgw0"
    static constexpr const char* kClientAddress = "10.78.0.2";   // the client's end, "hcl0"

    // Creates the client namespace and the veth pair; fails with the step that failed.
    static Result<NetemClientPath> create();

    // Puts `netem ARGS` (e.g. {"delay", "100ms", "20ms"}) on both ends, replacing what an
    // earlier call set. Fails, naming the device and tc's message, where the kernel has no
    // netem (sch_netem is loaded with modprobe first when it is a module).
    Result<void> setNetem(const std::vector<std::string>& args);

    // The client namespace, for runInNetns (processes forked there start in it).
    int clientNetns() const { return client_.get(); }

private:
    explicit NetemClientPath(UniqueFd client) : client_(std::move(client)) {}
    UniqueFd client_;
};

}  // namespace hotgate::test

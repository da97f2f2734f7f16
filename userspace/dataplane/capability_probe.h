// Capability probe: can this process use BPF steering (kernel BTF, CAP_BPF, bpffs, the
// reuseport sockarray map and sk_reuseport/migrate programs)? Run once at start; when the
// answer is no, the gateway logs the reason and runs in listener-fd-takeover mode.
#pragma once

#include <string>

namespace hotgate::dataplane {

struct SteeringSupport {
    bool usable = false;
    std::string reason;  // one line, no trailing newline; empty when usable
};

// Checks, in order, what BPF steering needs and stops at the first missing piece:
// kernel BTF, CAP_BPF (or CAP_SYS_ADMIN) in the effective set, bpffs at /sys/fs/bpf (mounted,
// or mountable with CAP_SYS_ADMIN), a REUSEPORT_SOCKARRAY map and a sk_reuseport program
// with expected_attach_type BPF_SK_REUSEPORT_SELECT_OR_MIGRATE (both created and closed).
// Never fails: every problem becomes `reason`.
SteeringSupport probeSteeringSupport();

// True when `cap` (a CAP_* number) is in this thread's effective capability set.
bool haveEffectiveCapability(int cap);

}  // namespace hotgate::dataplane

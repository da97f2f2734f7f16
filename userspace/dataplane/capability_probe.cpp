#include "dataplane/capability_probe.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/capability.h>

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/unique_fd.h"
#include "dataplane/bpffs.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

namespace hotgate::dataplane {

bool haveEffectiveCapability(int cap) {
    __user_cap_header_struct header{};
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capget, &header, data) != 0) return false;
    unsigned index = static_cast<unsigned>(cap) / 32;
    if (index >= _LINUX_CAPABILITY_U32S_3) return false;
    return (data[index].effective & (1u << (static_cast<unsigned>(cap) % 32))) != 0;
}

namespace {

SteeringSupport unusable(std::string reason) {
    return SteeringSupport{false, "BPF steering unavailable: " + std::move(reason)};
}

std::string errnoText(int err) { return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")"; }

}  // namespace

SteeringSupport probeSteeringSupport() {
    if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0)
        return unusable("no kernel BTF at /sys/kernel/btf/vmlinux (" + errnoText(errno) +
                        "; needs CONFIG_DEBUG_INFO_BTF)");

    const bool sys_admin = haveEffectiveCapability(CAP_SYS_ADMIN);
    if (!haveEffectiveCapability(CAP_BPF) && !sys_admin)
        return unusable("neither CAP_BPF nor CAP_SYS_ADMIN is in the effective capability set");

    const std::string mount_point(kBpffsMountPoint);
    if (!isOnBpffs(mount_point) && !sys_admin)
        return unusable("bpffs is not mounted at " + mount_point +
                        " and CAP_SYS_ADMIN (needed to mount it) is missing");

    UniqueFd map(bpf_map_create(BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, "steer_probe", sizeof(__u32),
                                sizeof(__u64), 1, nullptr));
    if (!map) {
        int err = errno;
        return unusable("kernel refused a REUSEPORT_SOCKARRAY map: " + errnoText(err));
    }

    // mov r0, SK_PASS; exit
    const bpf_insn insns[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, SK_PASS},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_SK_REUSEPORT_SELECT_OR_MIGRATE);
    UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_SK_REUSEPORT, "steer_probe", "Dual BSD/GPL", insns,
                                sizeof(insns) / sizeof(insns[0]), &opts));
    if (!prog) {
        int err = errno;
        return unusable("kernel refused a sk_reuseport/migrate program (needs Linux 5.14+): " +
                        errnoText(err));
    }
    return SteeringSupport{true, ""};
}

}  // namespace hotgate::dataplane

#include "support/privilege.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include <cstdlib>

#include "dataplane/bpffs.h"
#include "dataplane/capability_probe.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

namespace hotgate::test {

using dataplane::haveEffectiveCapability;

std::string missingPrivilege() {
    if (!haveEffectiveCapability(CAP_SYS_ADMIN)) return "needs CAP_SYS_ADMIN (run as root)";
    if (!haveEffectiveCapability(CAP_NET_ADMIN)) return "needs CAP_NET_ADMIN (run as root)";
    if (!haveEffectiveCapability(CAP_BPF)) return "needs CAP_BPF (run as root)";
    return "";
}

bool havePrivilege() { return missingPrivilege().empty(); }

bool dropAllCapabilities() {
    __user_cap_header_struct header{};
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    return ::syscall(SYS_capset, &header, data) == 0;
}

void PrivilegedTest::SetUp() {
    std::string missing = missingPrivilege();
    if (missing.empty()) return;
    if (std::getenv("HOTGATE_REQUIRE_PRIVILEGED"))
        FAIL() << "privilege expected but missing: " << missing;
    GTEST_SKIP() << missing;
}

ScopedBpffsRoot::ScopedBpffsRoot(std::string_view tag)
    : path_(std::string(dataplane::kBpffsMountPoint) + "/hotgate-test-" +
            std::to_string(::getpid()) + "-" + std::string(tag)) {
    (void)dataplane::removePinTree(path_);  // a leftover of a crashed run with a reused pid
    if (auto r = dataplane::ensureBpffsRoot(path_); !r) error_ = r.error().what();
}

ScopedBpffsRoot::~ScopedBpffsRoot() { (void)dataplane::removePinTree(path_); }

}  // namespace hotgate::test

// Privilege helpers for tests that need the real kernel: the PrivilegedTest fixture (skips
// with the reason, or fails when HOTGATE_REQUIRE_PRIVILEGED is set), dropping capabilities
// in a child process, and private bpffs roots that never touch a running gateway's pins.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>

#include <string>
#include <string_view>

namespace hotgate::test {

// True when this thread has what the BPF and namespace tests need: CAP_SYS_ADMIN (unshare,
// setns, mounting bpffs, which also covers BPF), CAP_NET_ADMIN (links, XDP) and CAP_BPF.
bool havePrivilege();
// The first missing capability, as "needs CAP_X"; empty when havePrivilege().
std::string missingPrivilege();

// Clears the effective, permitted and inheritable capability sets of the calling thread
// (call it in a forked child; uid 0 stays uid 0 but loses every privilege).
// Returns false with errno set when capset fails.
bool dropAllCapabilities();

// In a fixture's SetUp (GTEST_SKIP and FAIL return from the calling function): without
// privilege, skips with the missing capability and `why`, or fails when
// HOTGATE_REQUIRE_PRIVILEGED is set.
#define HOTGATE_NEEDS_PRIVILEGE(why)                                                                           \
    do {                                                                                                       \
        if (!::hotgate::test::havePrivilege()) {                                                               \
            if (std::getenv("HOTGATE_REQUIRE_PRIVILEGED")) FAIL() << "privilege expected but missing (" why ")"; \
            GTEST_SKIP() << ::hotgate::test::missingPrivilege() << " (" why ")";                                \
        }                                                                                                      \
    } while (false)

// Base fixture for tests that need privilege.
class PrivilegedTest : public ::testing::Test {
protected:
    void SetUp() override;
};

// A bpffs root private to this process and `tag` (/sys/fs/bpf/hotgate-test-<pid>-<tag>),
// created on construction (mounting bpffs if needed) and removed with every pin in it on
// destruction. Check ok() in SetUp.
class ScopedBpffsRoot {
public:
    explicit ScopedBpffsRoot(std::string_view tag);
    ~ScopedBpffsRoot();
    ScopedBpffsRoot(const ScopedBpffsRoot&) = delete;
    ScopedBpffsRoot& operator=(const ScopedBpffsRoot&) = delete;

    const std::string& path() const { return path_; }
    bool ok() const { return error_.empty(); }
    const std::string& error() const { return error_; }

private:
    std::string path_;
    std::string error_;
};

}  // namespace hotgate::test

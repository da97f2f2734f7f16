// Capability probe: as root it reports BPF steering usable; in a child that dropped every
// capability it reports why not in one line, and the loader fails cleanly instead of
// half-loading, which is what makes the gateway fall back to listener-fd takeover.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include <gtest/gtest.h>

#include "dataplane/capability_probe.h"
#include "dataplane/steer_loader.h"
#include "support/netns.h"
#include "support/privilege.h"
#include "tcp_util.h"

namespace hotgate::test {
namespace {

using dataplane::probeSteeringSupport;

class CapabilityTest : public PrivilegedTest {};

TEST_F(CapabilityTest, ProbeReportsUsableWithPrivilege) {
    auto support = probeSteeringSupport();
    EXPECT_TRUE(support.usable) << support.reason;
    EXPECT_TRUE(support.reason.empty());
}

// Reads everything a child wrote to `fd` until EOF.
std::string readAll(int fd) {
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

// Runs without privilege: a child drops every capability (uid 0 stays uid 0), probes, and
// tries to attach a listener; it reports "<usable>\n<reason>\n<attach error>\n".
TEST(CapabilityProbe, ReportsTheReasonAndLoaderFailsWithoutCapabilities) {
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(out[0]);
        // Its own namespace when we may make one (the child is single-threaded).
        if (havePrivilege() && ::unshare(CLONE_NEWNET) == 0) (void)setLinkUp("lo");
        UniqueFd listener = listenReuseport(18080);  // before dropping: a real listener
        std::string report;
        if (!dropAllCapabilities()) {
            report = "drop failed\n";
        } else {
            auto support = probeSteeringSupport();
            report = std::string(support.usable ? "1" : "0") + "\n" + support.reason + "\n";
            int fds[] = {listener.get()};
            const std::string root = "/sys/fs/bpf/hotgate-test-" + std::to_string(::getpid());
            auto loader = dataplane::SteerLoader::attachListener("web", fds, 0, true, root);
            report += loader ? std::string("attached") : loader.error().what();
            report += "\n";
            (void)dataplane::removePinTree(root);
        }
        (void)!::write(out[1], report.data(), report.size());
        ::_exit(0);
    }
    ::close(out[1]);
    std::string report = readAll(out[0]);
    ::close(out[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    ASSERT_NE(report, "drop failed\n");

    size_t first = report.find('\n');
    size_t second = report.find('\n', first + 1);
    ASSERT_NE(second, std::string::npos) << report;
    std::string usable = report.substr(0, first);
    std::string reason = report.substr(first + 1, second - first - 1);
    std::string attach = report.substr(second + 1);

    EXPECT_EQ(usable, "0");
    EXPECT_NE(reason.find("BPF steering unavailable"), std::string::npos) << reason;
    EXPECT_NE(reason.find("CAP_BPF"), std::string::npos) << reason;
    EXPECT_NE(attach, "attached\n") << "the loader must fail without capabilities";
    EXPECT_FALSE(attach.empty());
    std::cout << "unprivileged probe: " << reason << "\nunprivileged attach: " << attach;
}

}  // namespace
}  // namespace hotgate::test

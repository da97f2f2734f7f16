// The service manager's notify protocol (control/service_manager.h), with a unix datagram socket
// in systemd's place: the gateway and everything it or gwctl starts get NOTIFY_SOCKET in their
// environment, as under hotgate.service (Type=notify, NotifyAccess=all). CI's machine does not
// have systemd as PID 1; the unit under a real systemd runs in a VM (vmtests/suite,
// tests/package/package_under_systemd.sh).
//
// What systemd must hear: READY=1 once the first version serves; at an upgrade's commit
// MAINPID=<successor> from the running version while it still runs (else systemd would take its
// exit for the service's end), and MAINPID with READY=1 from the successor as it takes charge;
// STOPPING=1 when the main process drains for SIGTERM; and nothing of the kind from a version
// that exits after handing over.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <optional>
#include <thread>

#include "common/unique_fd.h"
#include "upgrade_fixture.h"

namespace hotgate::test {
namespace {

// One datagram as systemd would see it: its text and the sender's pid (SCM_CREDENTIALS).
struct Notification {
    pid_t sender = 0;
    std::string text;

    bool has(const std::string& assignment) const {
        return ("\n" + text + "\n").find("\n" + assignment + "\n") != std::string::npos;
    }
};

// Plays systemd's part: binds `path` as a datagram socket that receives senders' credentials.
class FakeServiceManager {
public:
    explicit FakeServiceManager(const std::filesystem::path& path) : path_(path) {
        fd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
        const int on = 1;
        bound_ = fd_ && ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                 ::setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0;
    }

    bool bound() const { return bound_; }
    const std::filesystem::path& path() const { return path_; }

    // The next datagram within `timeout`, or nothing.
    std::optional<Notification> receive(std::chrono::milliseconds timeout) {
        timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
        ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char data[4096];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
        iovec iov{data, sizeof data};
        msghdr message{};
        message.msg_iov = &iov;
        message.msg_iovlen = 1;
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(fd_.get(), &message, 0);
        if (n < 0) return std::nullopt;
        Notification notification{0, std::string(data, static_cast<std::size_t>(n))};
        for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
                notification.sender = reinterpret_cast<const ucred*>(CMSG_DATA(c))->pid;
        return notification;
    }

    // Reads until a datagram containing `assignment` arrives; the ones before it are kept.
    std::optional<Notification> waitFor(const std::string& assignment,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            auto next = receive(std::chrono::milliseconds(200));
            if (!next) continue;
            seen.push_back(*next);
            if (next->has(assignment)) return next;
        }
        return std::nullopt;
    }

    std::vector<Notification> seen;

private:
    std::filesystem::path path_;
    UniqueFd fd_;
    bool bound_ = false;
};

// Running and not a zombie: a process that has exited cannot have sent anything since.
bool stillRunning(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    const auto after_name = line.rfind(')');
    return after_name != std::string::npos && after_name + 2 < line.size() && line[after_name + 2] != 'Z' &&
           line[after_name + 2] != 'X';
}

class ServiceNotifyTest : public UpgradeTest {
protected:
    void SetUp() override {
        UpgradeTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        manager_.emplace(gateway_.dir() / "notify.sock");
        ASSERT_TRUE(manager_->bound()) << "cannot bind " << manager_->path() << ": " << std::strerror(errno);
        // Inherited by the gateway, gwctl and the successor gwctl starts, as under systemd.
        ::setenv("NOTIFY_SOCKET", manager_->path().c_str(), 1);
    }
    void TearDown() override {
        ::unsetenv("NOTIFY_SOCKET");
        UpgradeTest::TearDown();
    }

    // Starts the gateway and waits for its READY=1.
    void startAndAwaitReady() {
        ASSERT_TRUE(startGateway());
        const auto ready = manager_->waitFor("READY=1");
        ASSERT_TRUE(ready) << "no READY=1 from the gateway";
        EXPECT_EQ(ready->sender, gateway_.pid());
        // READY=1 means serving: a request right after it is answered.
        EXPECT_EQ(httpGet(port(), "/direct").status(), 200u);
        EXPECT_NE(ready->text.find("STATUS=serving"), std::string::npos) << ready->text;
    }

    std::optional<FakeServiceManager> manager_;
};

TEST_P(ServiceNotifyTest, ReadyOnceServingAndStoppingOnSigterm) {
    ASSERT_NO_FATAL_FAILURE(startAndAwaitReady());
    ASSERT_TRUE(gateway_.signal(SIGTERM));
    const auto stopping = manager_->waitFor("STOPPING=1");
    ASSERT_TRUE(stopping) << "no STOPPING=1 on SIGTERM";
    EXPECT_EQ(stopping->sender, gateway_.pid());
    EXPECT_TRUE(gateway_.waitExit(std::chrono::seconds(20)).has_value());
}

TEST_P(ServiceNotifyTest, CommitMovesMainPidToTheSuccessorWhileTheOldVersionRuns) {
    ASSERT_NO_FATAL_FAILURE(startAndAwaitReady());
    const pid_t old_pid = gateway_.pid();

    auto upgraded = upgrade(hotgateBBinary(), gateway_.configFile().string());
    ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
    ASSERT_FALSE(started_pids_.empty());
    const pid_t new_pid = started_pids_.back();
    // A request in flight on the old version (sent before cutover) keeps it draining for a
    // while after commit, so "still running" below means something.
    auto slow = std::async(std::launch::async, [this] { return httpGet(port(), "/slow?ms=4000").status(); });
    std::this_thread::sleep_for(300ms);
    auto cut = gwctl({"cutover"});
    ASSERT_EQ(cut.exit_code, 0) << cut.out << cut.err;
    while (auto early = manager_->receive(100ms))
        EXPECT_FALSE(early->has("MAINPID=" + std::to_string(new_pid))) << "MAINPID before commit: " << early->text;

    gateway_.expectExit();
    auto committed = gwctl({"commit"});
    ASSERT_EQ(committed.exit_code, 0) << committed.out << committed.err;

    // Both come, in either order: MAINPID=<successor> from the old version at commit, and
    // MAINPID=<own pid> with READY=1 from the successor as it takes charge.
    const std::string main_pid = "MAINPID=" + std::to_string(new_pid);
    std::optional<Notification> from_old, from_new;
    bool old_running_at_handover = false;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while ((!from_old || !from_new) && std::chrono::steady_clock::now() < deadline) {
        auto next = manager_->receive(200ms);
        if (!next) continue;
        manager_->seen.push_back(*next);
        if (next->sender == old_pid && next->has(main_pid)) {
            from_old = next;
            old_running_at_handover = stillRunning(old_pid);
        }
        if (next->sender == new_pid && next->has("READY=1")) from_new = next;
    }
    ASSERT_TRUE(from_old) << "the running version did not name its successor (" << main_pid << ") at commit";
    EXPECT_TRUE(old_running_at_handover) << "MAINPID came only after the old version exited";
    ASSERT_TRUE(from_new) << "no READY=1 from the successor as it took charge";
    EXPECT_TRUE(from_new->has(main_pid)) << from_new->text;

    EXPECT_EQ(slow.get(), 200u) << "the in-flight request finished on the old version";
    ASSERT_TRUE(gateway_.waitExit(std::chrono::seconds(20)).has_value()) << "the old version did not exit";
    // Its exit after handing over is no stop of the service.
    while (auto late = manager_->receive(300ms)) manager_->seen.push_back(*late);
    for (const auto& notification : manager_->seen)
        EXPECT_FALSE(notification.sender == old_pid && notification.has("STOPPING=1"))
            << "the handed-over version said STOPPING=1";

    // The successor is now the main process: its SIGTERM drain is the service stopping.
    ASSERT_EQ(::kill(new_pid, SIGTERM), 0);
    const auto stopping = manager_->waitFor("STOPPING=1");
    ASSERT_TRUE(stopping) << "no STOPPING=1 from the successor in charge";
    EXPECT_EQ(stopping->sender, new_pid);
}

INSTANTIATE_TEST_SUITE_P(Steering, ServiceNotifyTest, ::testing::Values("off", "auto"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace hotgate::test

// The successor launcher (control/successor_launcher.h) with a real child process: a shell
// script standing in for the new version, since what is checked is how it is started and
// watched (arguments, log capture, inherited descriptors, exit, timeout), not hotgate itself.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "control/successor_launcher.h"

namespace hotgate::control {
namespace {

using namespace std::chrono_literals;

class SuccessorLauncherTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/hotgate-launcher-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string script(const std::string& body) {
        auto path = (dir_ / "fake-hotgate.sh").string();
        std::ofstream(path) << "#!/bin/sh\n" << body;
        ::chmod(path.c_str(), 0755);
        return path;
    }
    std::string read(const std::string& name) {
        std::ifstream in(dir_ / name);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

    std::filesystem::path dir_;
};

TEST_F(SuccessorLauncherTest, StartsTheBinaryAsSuccessorAndCapturesItsLog) {
    const auto binary = script("echo \"args: $*\"\necho oops >&2\nls /proc/self/fd\nexit 3\n");
    const std::string log = (dir_ / "successor.log").string();
    // A descriptor of ours without CLOEXEC must not reach the new version.
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(null, 0);
    const int leaked = ::fcntl(null, F_DUPFD, 100);  // above what the shell and ls open themselves
    ::close(null);
    ASSERT_GE(leaked, 100);
    auto child = SuccessorProcess::launch({binary, "/etc/new.yaml", "/run/hg/control.sock", log});
    ::close(leaked);
    ASSERT_TRUE(child) << child.error().message;
    const auto waited = child->waitUntilReady([] { return false; }, 10s, 10ms);
    ASSERT_EQ(waited.outcome, SuccessorProcess::Outcome::Exited);
    EXPECT_EQ(describeExit(waited.wait_status), "exit status 3");
    const auto text = read("successor.log");
    EXPECT_NE(text.find("args: --config /etc/new.yaml --control-socket /run/hg/control.sock --upgrade-from "
                        "/run/hg/control.sock"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("oops"), std::string::npos) << "stderr goes to the log too";
    EXPECT_EQ(text.find("\n" + std::to_string(leaked) + "\n"), std::string::npos) << "fd leaked:\n" << text;
    const auto tail = logTail(log, 2);
    EXPECT_EQ(std::count(tail.begin(), tail.end(), '\n'), 2) << tail;
    EXPECT_EQ(tail.rfind("  | ", 0), 0u) << tail;
}

// Under hotgate.service (gwctl's output is the journal) the new version is asked to open a
// journal stream of its own; until it does it shares the starter's stdout, stdin is /dev/null.
TEST_F(SuccessorLauncherTest, AsksForAJournalStreamInsteadOfALogFile) {
    const auto args = (dir_ / "args").string();
    const auto binary = script("in=$(readlink /proc/$$/fd/0); out=$(readlink /proc/$$/fd/1)\n"
                               "printf '%s\\n%s\\n%s\\n' \"$*\" \"$in\" \"$out\" >" + args + "\n");
    SuccessorLaunch launch{binary, "/etc/new.yaml", "/run/hg/control.sock"};
    launch.log_to_journal = true;
    auto child = SuccessorProcess::launch(launch);
    ASSERT_TRUE(child) << child.error().message;
    const auto waited = child->waitUntilReady([] { return false; }, 10s, 10ms);
    ASSERT_EQ(waited.outcome, SuccessorProcess::Outcome::Exited);
    EXPECT_EQ(describeExit(waited.wait_status), "exit status 0");
    char own_stdout[256] = {};
    ASSERT_GT(::readlink("/proc/self/fd/1", own_stdout, sizeof own_stdout - 1), 0);
    EXPECT_EQ(read("args"), "--config /etc/new.yaml --control-socket /run/hg/control.sock --upgrade-from "
                            "/run/hg/control.sock --log-to-journal\n/dev/null\n" +
                                std::string(own_stdout) + "\n");
}

TEST_F(SuccessorLauncherTest, ReportsReadyWhileTheProcessRuns) {
    const auto binary = script("exec sleep 30\n");
    auto child = SuccessorProcess::launch({binary, "c", "s", (dir_ / "log").string()});
    ASSERT_TRUE(child);
    int polls = 0;
    const auto waited = child->waitUntilReady([&] { return ++polls == 3; }, 10s, 1ms);
    EXPECT_EQ(waited.outcome, SuccessorProcess::Outcome::Ready);
    EXPECT_EQ(polls, 3);
    child->terminate();
    int status = 0;
    ASSERT_EQ(::waitpid(child->pid(), &status, 0), child->pid());
    EXPECT_EQ(describeExit(status), "signal 15");
}

TEST_F(SuccessorLauncherTest, TimesOutWithoutStoppingTheProcess) {
    const auto binary = script("exec sleep 30\n");
    auto child = SuccessorProcess::launch({binary, "c", "s", (dir_ / "log").string()});
    ASSERT_TRUE(child);
    const auto started = std::chrono::steady_clock::now();
    const auto waited = child->waitUntilReady([] { return false; }, 200ms, 10ms);
    EXPECT_EQ(waited.outcome, SuccessorProcess::Outcome::TimedOut);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
    EXPECT_EQ(::kill(child->pid(), 0), 0) << "still running: stopping it is the caller's decision";
    child->terminate();
    int status = 0;
    EXPECT_EQ(::waitpid(child->pid(), &status, 0), child->pid());
}

TEST_F(SuccessorLauncherTest, AnExecFailureShowsAsExit127InTheLog) {
    const std::string log = (dir_ / "log").string();
    auto child = SuccessorProcess::launch({(dir_ / "missing").string(), "c", "s", log});
    ASSERT_TRUE(child);
    const auto waited = child->waitUntilReady([] { return false; }, 10s, 10ms);
    ASSERT_EQ(waited.outcome, SuccessorProcess::Outcome::Exited);
    EXPECT_EQ(describeExit(waited.wait_status), "exit status 127");
    EXPECT_NE(read("log").find("No such file"), std::string::npos) << read("log");
}

// A log that cannot be written is refused before anything starts, naming the file and errno.
TEST_F(SuccessorLauncherTest, AnUnwritableLogIsRefusedBeforeAnythingStarts) {
    const auto marker = dir_ / "ran";
    const auto binary = script("touch " + marker.string() + "\n");
    const std::pair<std::string, std::string> cases[] = {
        {"/dev/full", "No space left on device"},
        {(dir_ / "missing-dir" / "log").string(), "No such file or directory"},
    };
    for (const auto& [log, reason] : cases) {
        auto child = SuccessorProcess::launch({binary, "c", "s", log});
        ASSERT_FALSE(child) << log << ": started pid " << child->pid();
        EXPECT_NE(child.error().message.find(log), std::string::npos) << child.error().message;
        EXPECT_NE(child.error().message.find(reason), std::string::npos) << child.error().message;
        EXPECT_NE(child.error().errnum, 0);
    }
    std::this_thread::sleep_for(100ms);
    EXPECT_FALSE(std::filesystem::exists(marker)) << "the binary ran";
}

TEST_F(SuccessorLauncherTest, TheLogStartsWithTheLaunchLine) {
    const std::string log = (dir_ / "log").string();
    auto child = SuccessorProcess::launch({script("echo hello\n"), "/etc/c.yaml", "/run/s.sock", log});
    ASSERT_TRUE(child) << child.error().message;
    ASSERT_EQ(child->waitUntilReady([] { return false; }, 10s, 10ms).outcome, SuccessorProcess::Outcome::Exited);
    const auto text = read("log");
    EXPECT_NE(text.find(" info starting " + (dir_ / "fake-hotgate.sh").string() +
                        " --config /etc/c.yaml as the successor on /run/s.sock\nhello\n"),
              std::string::npos)
        << text;
}

TEST(CurrentExecutable, NamesThisTestBinary) {
    auto self = currentExecutable();
    ASSERT_TRUE(self) << self.error().message;
    EXPECT_EQ(std::filesystem::path(*self).filename(), "unit_tests");
}

}  // namespace
}  // namespace hotgate::control

// Journal streams (control/journal_stream.h): which descriptor $JOURNAL_STREAM names, and
// pointing stdout and stderr at a new stream, in a child process so the test's own output stays.
// Where no journald listens (CI's machine) the stream cannot open and nothing may change;
// the successor's lines reaching the journal under systemd are checked in the systemd VM
// (tests/package/package_under_systemd.sh).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "control/journal_stream.h"

namespace hotgate::control::journal {
namespace {

std::string identity(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return "";
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

TEST(JournalStreamTest, NamesTheDescriptorWhoseDeviceAndInodeItCarries) {
    const int file = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(file, 0);
    const int other = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(other, 0);
    const std::string value = identity(file);
    EXPECT_TRUE(isJournalStream(file, value.c_str()));
    EXPECT_FALSE(isJournalStream(other, value.c_str()));
    for (const char* malformed : {"", "12", "12:", ":12", "a:b", "1:2:3", " 1:2"})
        EXPECT_FALSE(isJournalStream(file, malformed)) << "'" << malformed << "'";
    EXPECT_FALSE(isJournalStream(file, (value + "x").c_str()));
    EXPECT_FALSE(isJournalStream(file, nullptr));
    EXPECT_FALSE(isJournalStream(-1, value.c_str()));
    ::close(file);
    ::close(other);
}

TEST(JournalStreamTest, ReadsJournalStreamFromTheEnvironment) {
    const int file = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(file, 0);
    const char* saved = std::getenv("JOURNAL_STREAM");
    const std::string restore = saved ? saved : "";
    ::setenv("JOURNAL_STREAM", identity(file).c_str(), 1);
    EXPECT_TRUE(isJournalStream(file));
    ::unsetenv("JOURNAL_STREAM");
    EXPECT_FALSE(isJournalStream(file));
    if (saved) ::setenv("JOURNAL_STREAM", restore.c_str(), 1);
    ::close(file);
}

// Exit codes of the child below: 0 as expected, else which check failed.
TEST(JournalStreamTest, PointsStdoutAndStderrAtANewStreamOrLeavesThem) {
    const bool journald = ::access("/run/systemd/journal/stdout", F_OK) == 0;
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        const std::string out_before = identity(STDOUT_FILENO);
        const std::string err_before = identity(STDERR_FILENO);
        const auto sent = sendOutputToJournal("hotgate-test");
        if (journald) {
            if (!sent) ::_exit(1);
            const char* value = std::getenv("JOURNAL_STREAM");
            if (value == nullptr || !isJournalStream(STDERR_FILENO, value) || !isJournalStream(STDOUT_FILENO, value))
                ::_exit(2);
        } else {
            if (sent) ::_exit(3);
            if (sent.error().message.find("sd_journal_stream_fd") == std::string::npos || sent.error().errnum == 0)
                ::_exit(4);
            if (identity(STDOUT_FILENO) != out_before || identity(STDERR_FILENO) != err_before) ::_exit(5);
        }
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << (journald ? "with journald" : "without journald") << ": check "
                                      << WEXITSTATUS(status) << " failed";
}

}  // namespace
}  // namespace hotgate::control::journal

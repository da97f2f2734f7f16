#include "control/journal_stream.h"

#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/unique_fd.h"

namespace hotgate::control::journal {

bool isJournalStream(int fd) { return isJournalStream(fd, std::getenv("JOURNAL_STREAM")); }

bool isJournalStream(int fd, const char* journal_stream) {
    if (journal_stream == nullptr) return false;
    uintmax_t device = 0;
    uintmax_t inode = 0;
    int consumed = 0;
    if (std::sscanf(journal_stream, "%ju:%ju%n", &device, &inode, &consumed) != 2 ||
        journal_stream[consumed] != '\0')
        return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;
    return st.st_dev == device && st.st_ino == inode;
}

Result<void> sendOutputToJournal(const char* identifier) {
    const int opened = ::sd_journal_stream_fd(identifier, LOG_INFO, /*level_prefix=*/0);
    if (opened < 0) return sysError(-opened, "open a journal stream (sd_journal_stream_fd) for ", identifier);
    UniqueFd stream(opened);
    std::fflush(stdout);
    std::fflush(stderr);
    if (::dup2(stream.get(), STDOUT_FILENO) < 0) return sysError(errno, "point stdout at the journal stream");
    if (::dup2(stream.get(), STDERR_FILENO) < 0) return sysError(errno, "point stderr at the journal stream");
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) == 0) {
        const std::string value = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
        ::setenv("JOURNAL_STREAM", value.c_str(), 1);
    }
    return {};
}

}  // namespace hotgate::control::journal

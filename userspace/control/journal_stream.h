// The systemd journal as the destination of this process's stdout and stderr. Under
// hotgate.service the first version's output reaches the journal because systemd connected it;
// a successor that gwctl starts for `systemctl reload` opens a stream of its own (hotgate
// --log-to-journal), so `journalctl -u hotgate` shows its lines under its own PID instead of a
// file in the RuntimeDirectory that a stop deletes. docs/operations.md, "Installing and
// running as a service".
#pragma once

#include "common/error.h"

namespace hotgate::control::journal {

// Whether `fd` is the stream that $JOURNAL_STREAM ("<device>:<inode>", which systemd sets for
// a service whose output goes to the journal) names: the check systemd.exec(5) documents.
bool isJournalStream(int fd);
// The same against a given value of $JOURNAL_STREAM (null or malformed: false).
bool isJournalStream(int fd, const char* journal_stream);

// Points stdout and stderr at a new journal stream with `identifier` as SYSLOG_IDENTIFIER
// (sd_journal_stream_fd(3)) and sets $JOURNAL_STREAM to it. Without journald it fails with
// the errno and leaves stdout and stderr as they were.
Result<void> sendOutputToJournal(const char* identifier);

}  // namespace hotgate::control::journal

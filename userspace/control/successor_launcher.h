// SuccessorLauncher: starts a new hotgate version as the successor of the one answering on a
// control socket (`BINARY --config C --control-socket S --upgrade-from S`), and watches that
// process until it is ready, exits, or runs out of time. Used by gwctl upgrade and by the
// config engine's upgrade to a config that needs a new version. The new version outlives
// whoever started it: it is never waited for after it is ready, nor stopped by a destructor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/error.h"

namespace hotgate::control {

struct SuccessorLaunch {
    std::string binary;
    std::string config_path;
    std::string control_socket;  // the running version's; the successor takes it over at commit
    // Where the successor's stdout and stderr go (appended, created 0600; stdin is /dev/null).
    // The launcher writes its first line itself: a log it cannot open or write (ENOSPC, EROFS,
    // ENOENT, ...) fails launch() before anything starts. Without one it shares the starter's.
    std::optional<std::string> log_file;
    // Instead of a log file: the successor opens a journal stream of its own at start (hotgate
    // --log-to-journal, control/journal_stream.h); until then it shares the starter's stdout and
    // stderr. For a starter whose own output is the journal (gwctl under hotgate.service).
    bool log_to_journal = false;
};

class SuccessorProcess {
public:
    // Opens and writes the log, then forks and execs; the child starts a session of its own (no
    // signals aimed at the starter's process group) and inherits no descriptor but stdio. An
    // unwritable log is an error naming the file and errno, with no process started; an exec
    // failure shows as exit 127.
    static Result<SuccessorProcess> launch(const SuccessorLaunch& launch);

    pid_t pid() const { return pid_; }

    enum class Outcome { Ready, Exited, TimedOut };
    struct Waited {
        Outcome outcome;
        int wait_status = 0;  // Exited: as waitpid() reports it
    };
    // Polls every `interval`, in this order, whether the process exited, whether `ready()`,
    // and whether `timeout` has passed. It does not stop the process on timeout.
    Waited waitUntilReady(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                          std::chrono::milliseconds interval);

    // SIGTERM: it drains and exits.
    void terminate() const;

private:
    explicit SuccessorProcess(pid_t pid) : pid_(pid) {}
    pid_t pid_;
};

// "exit status 3" or "signal 11", for a status waitpid() reported.
std::string describeExit(int wait_status);

// The last `lines` lines of a log file, each as "  | line\n".
std::string logTail(const std::string& path, std::size_t lines);

// This process's own binary (/proc/self/exe), to start a successor of the same build.
Result<std::string> currentExecutable();

}  // namespace hotgate::control

// ChildProcess: a program the tests fork/exec, with stdout and stderr captured to files, that
// can be signalled, waited for with a deadline, and is killed when the object goes away.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hotgate::test {

class ChildProcess {
public:
    ChildProcess() = default;
    // SIGKILLs and reaps the child if it is still running, so no test leaks a process.
    ~ChildProcess();

    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    // Starts argv[0] (a path, not searched in PATH) with argv. stdout and stderr go to the
    // given files (truncated). Returns false with `error` set when fork/exec failed; an exec
    // failure is reported through a close-on-exec pipe, so a missing binary is seen here.
    bool start(const std::vector<std::string>& argv, const std::filesystem::path& stdout_file,
               const std::filesystem::path& stderr_file, std::string& error);

    pid_t pid() const { return pid_; }
    bool running();

    // Sends sig; false when the child is already gone.
    bool signal(int sig);

    // Waits up to `timeout` for the child to exit. Returns its exit code (128+signal when a
    // signal ended it), or nullopt when it is still running at the deadline.
    std::optional<int> waitExit(std::chrono::milliseconds timeout);

    // SIGKILL and reap; no-op when not running.
    void kill();

    std::string readStdout() const;
    std::string readStderr() const;

private:
    pid_t pid_ = -1;
    std::optional<int> exit_code_;
    std::filesystem::path stdout_file_;
    std::filesystem::path stderr_file_;
};

// Result of running a command to completion.
struct CommandResult {
    int exit_code = -1;  // -1 when it did not finish within the timeout (it is then killed)
    std::string out;
    std::string err;
};

// Runs argv to completion with a deadline; captures stdout and stderr through files in
// `work_dir`.
CommandResult runCommand(const std::vector<std::string>& argv, const std::filesystem::path& work_dir,
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Reads a whole file into a string ("" when missing).
std::string readFile(const std::filesystem::path& file);

// Creates a fresh directory under the system temp dir, named after `stem`.
std::filesystem::path makeTempDir(const std::string& stem);

}  // namespace hotgate::test

#include "support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace hotgate::test {

namespace {

// Closes every descriptor >= `first` except `keep`; async-signal-safe (runs after fork).
void closeFdsFrom(int first, int keep) {
    if (::close_range(first, keep - 1, 0) == 0 && ::close_range(keep + 1, ~0U, 0) == 0) return;
    long max_fd = ::sysconf(_SC_OPEN_MAX);
    for (int fd = first; fd < (max_fd > 0 ? max_fd : 4096); ++fd)
        if (fd != keep) ::close(fd);
}

int decodeStatus(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

ChildProcess::~ChildProcess() { kill(); }

bool ChildProcess::start(const std::vector<std::string>& argv, const std::filesystem::path& stdout_file,
                         const std::filesystem::path& stderr_file, std::string& error) {
    stdout_file_ = stdout_file;
    stderr_file_ = stderr_file;
    exit_code_.reset();

    // Everything the child needs is prepared before fork: after it only async-signal-safe
    // calls are allowed.
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int out_fd = ::open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err_fd = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    int exec_pipe[2];
    if (out_fd < 0 || err_fd < 0 || null_fd < 0 || ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
        error = std::string("open output files or pipe: ") + std::strerror(errno);
        for (int fd : {out_fd, err_fd, null_fd})
            if (fd >= 0) ::close(fd);
        return false;
    }

    pid_t pid = ::fork();
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        for (int fd : {out_fd, err_fd, null_fd, exec_pipe[0], exec_pipe[1]}) ::close(fd);
        return false;
    }
    if (pid == 0) {
        ::dup2(null_fd, STDIN_FILENO);
        ::dup2(out_fd, STDOUT_FILENO);
        ::dup2(err_fd, STDERR_FILENO);
        // Its own process group, so a terminal ^C aimed at the test does not double-signal it.
        ::setpgid(0, 0);
        // Asio opens sockets without close-on-exec: a test upstream's listening socket
        // inherited here would keep its port accepting (and never answering) after the test
        // closed it. Only the exec-status pipe (close-on-exec itself) stays.
        closeFdsFrom(3, exec_pipe[1]);
        ::execv(args[0], args.data());
        int err = errno;
        (void)!::write(exec_pipe[1], &err, sizeof(err));
        ::_exit(127);
    }
    for (int fd : {out_fd, err_fd, null_fd, exec_pipe[1]}) ::close(fd);
    int exec_errno = 0;
    ssize_t n;
    do {
        n = ::read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
    } while (n < 0 && errno == EINTR);
    ::close(exec_pipe[0]);
    if (n == sizeof(exec_errno)) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        error = "exec " + argv[0] + ": " + std::strerror(exec_errno);
        return false;
    }
    pid_ = pid;
    return true;
}

bool ChildProcess::running() {
    if (pid_ < 0 || exit_code_) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        exit_code_ = decodeStatus(status);
        return false;
    }
    return r == 0;
}

bool ChildProcess::signal(int sig) {
    if (!running()) return false;
    return ::kill(pid_, sig) == 0;
}

std::optional<int> ChildProcess::waitExit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return exit_code_;
}

void ChildProcess::kill() {
    if (!running()) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) exit_code_ = decodeStatus(status);
}

std::string ChildProcess::readStdout() const { return readFile(stdout_file_); }
std::string ChildProcess::readStderr() const { return readFile(stderr_file_); }

CommandResult runCommand(const std::vector<std::string>& argv, const std::filesystem::path& work_dir,
                         std::chrono::milliseconds timeout) {
    static std::atomic<int> counter{0};
    std::string stem = "cmd" + std::to_string(++counter);
    ChildProcess child;
    CommandResult result;
    std::string error;
    if (!child.start(argv, work_dir / (stem + ".out"), work_dir / (stem + ".err"), error)) {
        result.err = error;
        return result;
    }
    auto code = child.waitExit(timeout);
    if (!code) child.kill();
    result.exit_code = code.value_or(-1);
    result.out = child.readStdout();
    result.err = child.readStderr();
    return result;
}

std::string readFile(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

std::filesystem::path makeTempDir(const std::string& stem) {
    std::string pattern = (std::filesystem::temp_directory_path() / (stem + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) return {};
    return pattern;
}

}  // namespace hotgate::test

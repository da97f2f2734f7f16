#include "control/successor_launcher.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

namespace hotgate::control {

Result<SuccessorProcess> SuccessorProcess::launch(const SuccessorLaunch& launch) {
    // Everything the child needs is ready before fork: it only makes system calls.
    const char* binary = launch.binary.c_str();
    const char* argv[] = {binary,
                          "--config",
                          launch.config_path.c_str(),
                          "--control-socket",
                          launch.control_socket.c_str(),
                          "--upgrade-from",
                          launch.control_socket.c_str(),
                          nullptr};
    const char* log_file = launch.log_file ? launch.log_file->c_str() : nullptr;
    const pid_t child = ::fork();
    if (child < 0) return sysError(errno, "fork for the new version");
    if (child == 0) {
        ::setsid();  // not killed by signals aimed at the starter's process group or terminal
        if (log_file) {
            const int log = ::open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (log >= 0) {
                ::dup2(log, STDOUT_FILENO);
                ::dup2(log, STDERR_FILENO);
            }
            if (null >= 0) ::dup2(null, STDIN_FILENO);
        }
        // Nothing of the starter's but stdio may reach the new version: an inherited copy of a
        // client connection would keep it open after the starter closes it. (The new version
        // gets its sockets by handover.)
        ::close_range(3, ~0U, 0);
        ::execv(binary, const_cast<char* const*>(argv));
        std::fprintf(stderr, "exec %s: %s\n", binary, std::strerror(errno));
        ::_exit(127);
    }
    return SuccessorProcess(child);
}

SuccessorProcess::Waited SuccessorProcess::waitUntilReady(const std::function<bool()>& ready,
                                                          std::chrono::milliseconds timeout,
                                                          std::chrono::milliseconds interval) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) return {Outcome::Exited, status};
        if (ready()) return {Outcome::Ready};
        if (std::chrono::steady_clock::now() > deadline) return {Outcome::TimedOut};
        std::this_thread::sleep_for(interval);
    }
}

void SuccessorProcess::terminate() const { ::kill(pid_, SIGTERM); }

std::string describeExit(int wait_status) {
    return WIFEXITED(wait_status) ? "exit status " + std::to_string(WEXITSTATUS(wait_status))
                                  : "signal " + std::to_string(WTERMSIG(wait_status));
}

std::string logTail(const std::string& path, std::size_t lines) {
    std::ifstream in(path);
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);) all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) out += "  | " + all[i] + "\n";
    return out;
}

Result<std::string> currentExecutable() {
    char self[4096];
    const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) return sysError(errno, "readlink /proc/self/exe");
    return std::string(self, static_cast<std::size_t>(length));
}

}  // namespace hotgate::control

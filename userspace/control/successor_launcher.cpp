#include "control/successor_launcher.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace hotgate::control {
namespace {

// Opens the successor's log and writes its first line, so a log that cannot be written (a
// full disk, /dev/full, a read-only or missing directory) is refused before anything starts.
Result<UniqueFd> openSuccessorLog(const SuccessorLaunch& launch) {
    const std::string& path = *launch.log_file;
    UniqueFd log(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!log) return sysError(errno, "the new version's log ", path);
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    const std::string line = std::string(stamp) + " info starting " + launch.binary + " --config " +
                             launch.config_path + " as the successor on " + launch.control_socket + "\n";
    const ssize_t written = ::write(log.get(), line.data(), line.size());
    if (written < 0) return sysError(errno, "write to the new version's log ", path);
    if (static_cast<std::size_t>(written) != line.size())
        return sysError(ENOSPC, "write to the new version's log ", path, " (", written, " of ", line.size(), " bytes)");
    return log;
}

}  // namespace

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
                          launch.log_to_journal ? "--log-to-journal" : nullptr,
                          nullptr};
    UniqueFd log;
    if (launch.log_file) {
        auto opened = openSuccessorLog(launch);
        if (!opened) return tl::unexpected(opened.error());
        log = std::move(*opened);
    }
    const int log_fd = log.get();
    const pid_t child = ::fork();
    if (child < 0) return sysError(errno, "fork for the new version");
    if (child == 0) {
        ::setsid();  // not killed by signals aimed at the starter's process group or terminal
        if (log_fd >= 0 || launch.log_to_journal) {
            const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (null >= 0) ::dup2(null, STDIN_FILENO);
        }
        if (log_fd >= 0) {
            ::dup2(log_fd, STDOUT_FILENO);
            ::dup2(log_fd, STDERR_FILENO);
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

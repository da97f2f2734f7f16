#include "admin/peer_metrics.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "observability/logging.h"

namespace hotgate {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSocketTag = ".http-metrics.";
constexpr std::string_view kFinalTag = ".http-metrics-final.";

std::string socketPath(const std::string& control_socket, pid_t pid) {
    return control_socket + std::string(kSocketTag) + std::to_string(pid);
}
std::string finalPath(const std::string& control_socket, pid_t pid) {
    return control_socket + std::string(kFinalTag) + std::to_string(pid);
}

bool processRuns(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// The files beside `control_socket` named "<its name><tag><pid>", by pid.
std::map<pid_t, fs::path> filesTagged(const std::string& control_socket, std::string_view tag) {
    std::map<pid_t, fs::path> found;
    const fs::path base(control_socket);
    const std::string prefix = base.filename().string() + std::string(tag);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(base.parent_path().empty() ? "." : base.parent_path(), ec)) {
        const auto name = entry.path().filename().string();
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
        const auto digits = name.substr(prefix.size());
        if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
        found.emplace(static_cast<pid_t>(std::stol(digits)), entry.path());
    }
    return found;
}

sockaddr_un unixAddress(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    return address;
}

// Everything a peer's socket sends before closing, or nothing when it does not answer in time.
// (A poll() deadline, not a receive timeout option: those mark sockets for the health profile,
// health/version_mark.h.)
std::optional<std::string> readPeer(const std::string& path, std::chrono::milliseconds timeout) {
    if (path.size() >= sizeof(sockaddr_un::sun_path)) return std::nullopt;
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return std::nullopt;
    const auto address = unixAddress(path);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string text;
    char buffer[16384];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd readable{fd.get(), POLLIN, 0};
        const int ready = left.count() > 0 ? ::poll(&readable, 1, static_cast<int>(left.count())) : 0;
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return std::nullopt;  // timed out: a partial text could undercount
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n == 0) return text;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return std::nullopt;
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
}

std::optional<std::string> readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

PeerMetricsServer::PeerMetricsServer(std::string path, UniqueFd listener, std::function<std::string()> own_http)
    : path_(std::move(path)), listener_(std::move(listener)), own_http_(std::move(own_http)) {
    thread_ = std::thread([this] { serveLoop(); });
}

Result<std::unique_ptr<PeerMetricsServer>> PeerMetricsServer::start(const std::string& control_socket,
                                                                     std::function<std::string()> own_http) {
    const auto path = socketPath(control_socket, ::getpid());
    if (path.size() >= sizeof(sockaddr_un::sun_path))
        return fail("metrics socket path ", path, " is longer than a unix socket path may be");
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail("metrics socket: socket(): ", std::strerror(errno));
    ::unlink(path.c_str());  // a previous process with this pid
    const auto address = unixAddress(path);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        return fail("metrics socket ", path, ": bind: ", std::strerror(errno));
    ::chmod(path.c_str(), 0600);
    if (::listen(fd.get(), 16) != 0) return fail("metrics socket ", path, ": listen: ", std::strerror(errno));
    return std::unique_ptr<PeerMetricsServer>(new PeerMetricsServer(path, std::move(fd), std::move(own_http)));
}

PeerMetricsServer::~PeerMetricsServer() { stop(); }

void PeerMetricsServer::stop() {
    if (stopping_.exchange(true)) return;
    ::shutdown(listener_.get(), SHUT_RDWR);  // wakes accept()
    if (thread_.joinable()) thread_.join();
    ::unlink(path_.c_str());
}

void PeerMetricsServer::serveLoop() {
    while (!stopping_) {
        UniqueFd peer(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!peer) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (!stopping_) log::warn("metrics socket ", path_, ": accept: ", std::strerror(errno));
            return;
        }
        const timeval tv{1, 0};
        ::setsockopt(peer.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        const auto text = own_http_();
        std::size_t sent = 0;
        while (sent < text.size()) {
            const ssize_t n = ::send(peer.get(), text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            sent += static_cast<std::size_t>(n);
        }
    }
}

std::vector<PeerMetricsText> collectPeerMetrics(const std::string& control_socket, pid_t self,
                                                std::chrono::milliseconds timeout) {
    std::vector<PeerMetricsText> texts;
    const auto finals = filesTagged(control_socket, kFinalTag);
    std::set<pid_t> answered;
    for (const auto& [pid, path] : filesTagged(control_socket, kSocketTag)) {
        if (pid == self) continue;
        if (auto text = readPeer(path.string(), timeout)) {
            texts.push_back({pid, false, std::move(*text)});
            answered.insert(pid);
        }
    }
    // A version that has left (or is leaving: its final file is written before its socket goes).
    for (const auto& [pid, path] : finals) {
        if (pid == self || answered.count(pid)) continue;
        if (auto text = readFile(path)) texts.push_back({pid, true, std::move(*text)});
    }
    return texts;
}

std::vector<std::string> textsToMerge(std::vector<PeerMetricsText> peers, const std::string& own_version) {
    std::stable_partition(peers.begin(), peers.end(), [](const PeerMetricsText& peer) { return !peer.left; });
    std::set<std::string> labels{own_version};
    std::vector<std::string> texts;
    for (auto& peer : peers) {
        const auto at = peer.text.find("version=\"");
        if (at == std::string::npos) continue;  // no series
        const auto begin = at + 9;
        const auto label = peer.text.substr(begin, peer.text.find('"', begin) - begin);
        if (!labels.insert(label).second) continue;
        texts.push_back(std::move(peer.text));
    }
    return texts;
}

Result<void> leaveFinalMetrics(const std::string& control_socket, pid_t self, const std::string& text) {
    const auto path = finalPath(control_socket, self);
    const auto temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) return fail("final metrics ", temporary, ": cannot write: ", std::strerror(errno));
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0)
        return fail("final metrics ", path, ": rename: ", std::strerror(errno));
    for (const auto& [pid, older] : filesTagged(control_socket, kFinalTag)) {
        if (pid == self) continue;
        std::error_code ignored;
        fs::remove(older, ignored);
    }
    return {};
}

void removeStalePeerMetrics(const std::string& control_socket) {
    for (std::string_view tag : {kSocketTag, kFinalTag}) {
        for (const auto& [pid, path] : filesTagged(control_socket, tag)) {
            if (pid == ::getpid() || (tag == kSocketTag && processRuns(pid))) continue;
            std::error_code ignored;
            fs::remove(path, ignored);
        }
    }
}

}  // namespace hotgate

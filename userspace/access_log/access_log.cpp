#include "access_log/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "observability/logging.h"

namespace hotgate {
namespace {

constexpr auto kReopenWait = std::chrono::seconds(5);
constexpr auto kErrorLogInterval = std::chrono::seconds(10);

int openForAppend(const std::string& path) {
    if (path == "-") return STDOUT_FILENO;
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

std::uint64_t linesIn(std::string_view text) {
    return static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

AccessLog::AccessLog(std::size_t workers) {
    for (std::size_t w = 0; w < workers; ++w) buffers_.push_back(std::make_unique<WorkerBuffer>());
    writer_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
    {
        std::lock_guard lock(wake_mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
    for (std::size_t f = 0; f < file_count_.load(std::memory_order_acquire); ++f)
        if (const int fd = files_[f].fd.load(); fd > STDERR_FILENO) ::close(fd);
}

Result<void> AccessLog::open(const std::vector<AccessLogConfig>& sinks) {
    std::lock_guard lock(open_mutex_);
    for (std::size_t i = 0; i < sinks.size(); ++i) {
        const std::string& path = sinks[i].path;
        if (fileOf(path)) continue;
        const std::size_t count = file_count_.load(std::memory_order_relaxed);
        if (count == kMaxFiles)
            return fail("access_log[", i, "].path: ", path, ": this process has opened ", kMaxFiles,
                        " access log files already (the most it opens in its life); a new version "
                        "(gwctl upgrade) starts afresh");
        const int fd = openForAppend(path);
        if (fd < 0) return sysError(errno, "access_log[", i, "].path: cannot open ", path, " for appending");
        files_[count].path = path;
        files_[count].fd.store(fd);
        file_count_.store(count + 1, std::memory_order_release);
        log::info("access log: ", path == "-" ? "standard output" : path);
    }
    return {};
}

std::optional<std::size_t> AccessLog::fileOf(const std::string& path) const {
    const std::size_t count = file_count_.load(std::memory_order_acquire);
    for (std::size_t f = 0; f < count; ++f)
        if (files_[f].path == path) return f;
    return std::nullopt;
}

bool AccessLog::submit(std::size_t worker, std::size_t file, std::string_view line) {
    if (worker >= buffers_.size() || file >= kMaxFiles) return false;
    WorkerBuffer& buffer = *buffers_[worker];
    bool wake = false;
    {
        std::lock_guard lock(buffer.mutex);
        if (buffer.bytes + line.size() > kWorkerBufferBytes) {
            ++buffer.dropped[file];
            return false;
        }
        wake = buffer.bytes < kWakeBytes && buffer.bytes + line.size() >= kWakeBytes;
        buffer.pending[file].append(line);
        ++buffer.pending_lines[file];
        buffer.bytes += line.size();
    }
    if (wake) {
        urgent_.store(true, std::memory_order_relaxed);
        wake_.notify_one();
    }
    return true;
}

Result<std::size_t> AccessLog::reopen() {
    std::unique_lock lock(wake_mutex_);
    const std::uint64_t target = ++reopen_requested_;
    wake_.notify_one();
    if (!done_.wait_for(lock, kReopenWait, [&] { return reopen_done_ >= target; }))
        return fail("access log: the writer did not reopen its files within 5 s (a write to one of them has not "
                    "returned: is its disk stuck?)");
    if (!reopen_failures_.empty()) {
        std::string joined;
        for (const auto& failure : reopen_failures_) joined += (joined.empty() ? "" : "; ") + failure;
        return fail("access log: ", joined, " (those keep writing to the file they had)");
    }
    std::size_t files = 0;
    for (std::size_t f = 0; f < file_count_.load(std::memory_order_acquire); ++f) files += files_[f].path != "-";
    return files;
}

void AccessLog::requestReopen() {
    {
        std::lock_guard lock(wake_mutex_);
        ++reopen_requested_;
    }
    wake_.notify_one();
}

void AccessLog::flush() {
    std::unique_lock lock(wake_mutex_);
    const std::uint64_t target = ++flush_requested_;
    wake_.notify_one();
    done_.wait(lock, [&] { return flush_done_ >= target || stopping_; });
}

std::vector<AccessLog::FileCounters> AccessLog::counters() const {
    std::vector<FileCounters> out;
    const std::size_t count = file_count_.load(std::memory_order_acquire);
    for (std::size_t f = 0; f < count; ++f) {
        FileCounters counters;
        counters.path = files_[f].path;
        counters.lines_written = files_[f].lines_written.load(std::memory_order_relaxed);
        counters.lines_dropped_write_error = files_[f].lines_write_error.load(std::memory_order_relaxed);
        for (const auto& buffer : buffers_) {
            std::lock_guard lock(buffer->mutex);
            counters.lines_dropped_buffer_full += buffer->dropped[f];
        }
        out.push_back(std::move(counters));
    }
    return out;
}

void AccessLog::run() {
    std::unique_lock lock(wake_mutex_);
    for (;;) {
        wake_.wait_for(lock, kFlushInterval, [&] {
            return stopping_ || flush_requested_ != flush_done_ || reopen_requested_ != reopen_done_ ||
                   urgent_.load(std::memory_order_relaxed);
        });
        const std::uint64_t flush_target = flush_requested_;
        const std::uint64_t reopen_target = reopen_requested_;
        const bool stop = stopping_;
        lock.unlock();
        urgent_.store(false, std::memory_order_relaxed);
        // Lines taken before a reopen go to the file they were taken for (the rotated one).
        writePending();
        std::vector<std::string> failures;
        const bool reopening = reopen_target != reopen_done_;
        if (reopening) failures = reopenFiles();
        lock.lock();
        flush_done_ = flush_target;
        if (reopening) {
            reopen_done_ = reopen_target;
            reopen_failures_ = std::move(failures);
        }
        done_.notify_all();
        if (stop) return;
    }
}

void AccessLog::writePending() {
    for (auto& buffer : buffers_) {
        {
            std::lock_guard lock(buffer->mutex);
            if (buffer->bytes == 0) continue;
            for (std::size_t f = 0; f < kMaxFiles; ++f) {
                swapped_[f].clear();
                swapped_[f].swap(buffer->pending[f]);
                swapped_lines_[f] = std::exchange(buffer->pending_lines[f], 0);
            }
            buffer->bytes = 0;
        }
        // Read after the swap: a line in it was submitted to a file published before.
        const std::size_t count = file_count_.load(std::memory_order_acquire);
        for (std::size_t f = 0; f < count; ++f)
            if (!swapped_[f].empty()) writeAll(files_[f], swapped_[f], swapped_lines_[f]);
    }
}

void AccessLog::writeAll(File& file, std::string_view text, std::uint64_t lines) {
    const int fd = file.fd.load(std::memory_order_relaxed);
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            // Each newline written ended a whole line; the rest (a cut line too) is lost.
            const std::uint64_t written = linesIn(text.substr(0, done));
            file.lines_written.fetch_add(written, std::memory_order_relaxed);
            file.lines_write_error.fetch_add(lines - written, std::memory_order_relaxed);
            const auto now = std::chrono::steady_clock::now();
            if (now - file.last_error_log >= kErrorLogInterval) {
                file.last_error_log = now;
                log::warn("access log ", file.path, ": write failed: ", std::strerror(err),
                          "; its lines are dropped and counted (hotgate_access_log_lines_total)");
            }
            return;
        }
        done += static_cast<std::size_t>(n);
    }
    file.lines_written.fetch_add(lines, std::memory_order_relaxed);
}

std::vector<std::string> AccessLog::reopenFiles() {
    std::vector<std::string> failures;
    std::size_t reopened = 0;
    const std::size_t count = file_count_.load(std::memory_order_acquire);
    for (std::size_t f = 0; f < count; ++f) {
        File& file = files_[f];
        if (file.path == "-") continue;
        const int fd = openForAppend(file.path);
        if (fd < 0) {
            failures.push_back("cannot reopen " + file.path + ": " + std::strerror(errno));
            continue;
        }
        const int old = file.fd.exchange(fd);
        if (old > STDERR_FILENO) ::close(old);
        ++reopened;
    }
    log::info("access log: reopened ", reopened, " file", reopened == 1 ? "" : "s",
              failures.empty() ? "" : "; failed: " + failures.front());
    return failures;
}

}  // namespace hotgate

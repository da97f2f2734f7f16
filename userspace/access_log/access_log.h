// AccessLog: the access log's files and the thread that writes them (docs/operations.md
// "Access log"). Workers never touch a file: each appends whole lines to its own bounded buffer
// (a mutex only the writer ever contends, for the moment of a swap), and the writer thread
// writes what the buffers hold every kFlushInterval, or sooner when one fills up. When the disk
// cannot keep up, a full buffer refuses the line: it is dropped and counted, and the request
// never waits. Lines of one write() never interleave with another process's (O_APPEND), so two
// versions logging to one file across an upgrade give whole lines.
//
// A file is opened once per process (by the config that first names it) and stays open;
// reopen() opens every path again (logrotate moved the file away).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/error.h"
#include "config/config.h"

namespace hotgate {

class AccessLog {
public:
    static constexpr std::size_t kMaxFiles = 32;  // distinct paths one process opens, in its life
    static constexpr std::size_t kWorkerBufferBytes = 1024 * 1024;  // per worker, all files together
    static constexpr std::size_t kWakeBytes = 256 * 1024;  // a worker buffer this full wakes the writer
    static constexpr std::chrono::milliseconds kFlushInterval{100};

    // `workers`: the worker threads that submit (indexes 0 .. workers-1). Starts the writer.
    explicit AccessLog(std::size_t workers);
    // Writes what the buffers hold, then stops the writer.
    ~AccessLog();
    AccessLog(const AccessLog&) = delete;
    AccessLog& operator=(const AccessLog&) = delete;

    // Opens the files of `sinks` not open yet, before a snapshot naming them is published. Fails
    // naming the sink, the path and errno; the files already open stay as they are.
    Result<void> open(const std::vector<AccessLogConfig>& sinks);
    // The file an opened path is, for submit().
    std::optional<std::size_t> fileOf(const std::string& path) const;

    // Worker `worker`'s thread: one line (with its newline, and no other) for `file`. False
    // when it was dropped because the worker's buffer is full.
    bool submit(std::size_t worker, std::size_t file, std::string_view line);

    // Opens every file's path again and writes to the new file from now on; waits for the
    // writer to have done it. Returns how many files were reopened; fails naming the paths that
    // could not be opened (those keep writing to the file they had).
    Result<std::size_t> reopen();
    // The same without waiting for it (SIGUSR1): the writer logs what it did.
    void requestReopen();
    // Writes what the buffers hold now; returns once it is written (tests, and before exit).
    void flush();

    struct FileCounters {
        std::string path;
        std::uint64_t lines_written = 0;
        std::uint64_t lines_dropped_buffer_full = 0;  // refused by a full worker buffer
        std::uint64_t lines_dropped_write_error = 0;  // in a write() that failed
    };
    std::vector<FileCounters> counters() const;

private:
    // `path` is set before the file is published (file_count_) and never changes; the counters
    // and the fd (reopen) change on the writer thread only.
    struct File {
        std::string path;
        std::atomic<int> fd{-1};  // standard output for "-"
        std::atomic<std::uint64_t> lines_written{0};
        std::atomic<std::uint64_t> lines_write_error{0};
        std::chrono::steady_clock::time_point last_error_log{};  // writer thread
    };
    // One worker's lines not yet written, per file. Cache-line aligned: workers never share one.
    struct alignas(64) WorkerBuffer {
        std::mutex mutex;
        std::array<std::string, kMaxFiles> pending;
        std::array<std::uint64_t, kMaxFiles> pending_lines{};
        std::array<std::uint64_t, kMaxFiles> dropped{};
        std::size_t bytes = 0;
    };

    void run();
    // Writer thread: takes every worker's pending lines and writes them.
    void writePending();
    // Writes `text`, `lines` whole lines; counts them written, or lost when a write fails.
    void writeAll(File& file, std::string_view text, std::uint64_t lines);
    // Writer thread: reopens every file; the paths that failed, with errno.
    std::vector<std::string> reopenFiles();

    std::vector<std::unique_ptr<WorkerBuffer>> buffers_;
    std::array<std::string, kMaxFiles> swapped_;  // writer thread: what it took from a buffer
    std::array<std::uint64_t, kMaxFiles> swapped_lines_{};

    std::mutex open_mutex_;  // one open() at a time
    std::array<File, kMaxFiles> files_;
    std::atomic<std::size_t> file_count_{0};  // files_[0 .. count) are published
    std::atomic<bool> urgent_{false};         // a worker buffer passed kWakeBytes

    std::mutex wake_mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    bool stopping_ = false;
    std::uint64_t flush_requested_ = 0;
    std::uint64_t flush_done_ = 0;
    std::uint64_t reopen_requested_ = 0;
    std::uint64_t reopen_done_ = 0;
    std::vector<std::string> reopen_failures_;
    std::thread writer_;
};

}  // namespace hotgate

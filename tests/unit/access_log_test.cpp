// AccessLog, the writer behind the access log: lines from several workers all reach the file
// whole; a writer that cannot write (a pipe nobody reads) makes workers drop and count lines,
// never wait; a failing disk (/dev/full) is counted; reopen follows a rotated file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "access_log/access_log.h"

namespace hotgate {
namespace {

namespace fs = std::filesystem;

class AccessLogTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("hotgate-access-log-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    static std::vector<std::string> linesOf(const fs::path& path) {
        std::ifstream in(path);
        std::vector<std::string> lines;
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return lines;
    }
    static AccessLogConfig sink(const fs::path& path) { return AccessLogConfig{.path = path.string()}; }

    fs::path dir_;
};

TEST_F(AccessLogTest, LinesFromEveryWorkerArriveWhole) {
    const auto path = dir_ / "access.log";
    AccessLog log(4);
    ASSERT_TRUE(log.open({sink(path)}));
    const std::size_t file = log.fileOf(path.string()).value();
    constexpr int kPerWorker = 5000;
    std::vector<std::thread> workers;
    for (std::size_t w = 0; w < 4; ++w)
        workers.emplace_back([&, w] {
            for (int i = 0; i < kPerWorker; ++i) {
                const std::string line = "worker " + std::to_string(w) + " line " + std::to_string(i) + " " +
                                         std::string(static_cast<std::size_t>(i % 200), 'x') + "\n";
                EXPECT_TRUE(log.submit(w, file, line));
            }
        });
    for (auto& worker : workers) worker.join();
    log.flush();
    const auto lines = linesOf(path);
    ASSERT_EQ(lines.size(), 4u * kPerWorker);
    std::vector<int> next(4, 0);  // each worker's lines arrive in its order
    for (const auto& line : lines) {
        const std::size_t w = static_cast<std::size_t>(line[7] - '0');
        ASSERT_LT(w, 4u) << line;
        const int i = std::stoi(line.substr(14));
        EXPECT_EQ(i, next[w]++) << line;
        EXPECT_EQ(line.size(), line.find(' ', 14) + 1 + static_cast<std::size_t>(i % 200)) << "a whole line";
    }
    const auto counters = log.counters();
    ASSERT_EQ(counters.size(), 1u);
    EXPECT_EQ(counters[0].lines_written, 4u * kPerWorker);
    EXPECT_EQ(counters[0].lines_dropped_buffer_full, 0u);
}

TEST_F(AccessLogTest, AStuckWriterMakesWorkersDropAndCountNeverWait) {
    const auto fifo = dir_ / "stuck.fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // reads nothing until the end
    ASSERT_GE(reader, 0);
    std::uint64_t accepted = 0;
    std::uint64_t refused = 0;
    {
        AccessLog log(1);
        ASSERT_TRUE(log.open({sink(fifo)}));
        const std::size_t file = log.fileOf(fifo.string()).value();
        const std::string line(99, 'l');
        // 4 MiB of lines: far more than the pipe (64 KiB) and the worker's buffer (1 MiB) hold.
        for (int i = 0; i < 40000; ++i) (log.submit(0, file, line + "\n") ? accepted : refused)++;
        EXPECT_GT(refused, 0u) << "a full buffer refuses lines";
        EXPECT_LE(accepted * 100, 2 * AccessLog::kWorkerBufferBytes + 64 * 1024)
            << "bounded: the worker's buffer, plus what the writer took before the pipe filled";
        EXPECT_EQ(log.counters()[0].lines_dropped_buffer_full, refused);
        // The reader drains the pipe: the writer goes on, and every accepted line arrives.
        std::uint64_t bytes = 0;
        std::thread drain([&] {
            char chunk[65536];
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (bytes < accepted * 100 && std::chrono::steady_clock::now() < deadline) {
                const ssize_t n = ::read(reader, chunk, sizeof chunk);
                if (n > 0) bytes += static_cast<std::uint64_t>(n);
                else std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
        log.flush();
        drain.join();
        EXPECT_EQ(bytes, accepted * 100);
        EXPECT_EQ(log.counters()[0].lines_written, accepted);
    }
    ::close(reader);
}

TEST_F(AccessLogTest, WriteErrorsAreCounted) {
    AccessLog log(1);
    ASSERT_TRUE(log.open({AccessLogConfig{.path = "/dev/full"}}));
    const std::size_t file = log.fileOf("/dev/full").value();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(log.submit(0, file, "line\n"));
    log.flush();
    const auto counters = log.counters();
    EXPECT_EQ(counters[0].lines_written, 0u);
    EXPECT_EQ(counters[0].lines_dropped_write_error, 10u);
}

TEST_F(AccessLogTest, ReopenFollowsARotatedFile) {
    const auto path = dir_ / "access.log";
    AccessLog log(1);
    ASSERT_TRUE(log.open({sink(path)}));
    const std::size_t file = log.fileOf(path.string()).value();
    ASSERT_TRUE(log.submit(0, file, "before\n"));
    log.flush();
    fs::rename(path, dir_ / "access.log.1");  // what logrotate does
    ASSERT_TRUE(log.submit(0, file, "still the old file\n"));
    auto reopened = log.reopen();
    ASSERT_TRUE(reopened) << reopened.error().message;
    EXPECT_EQ(*reopened, 1u);
    ASSERT_TRUE(log.submit(0, file, "after\n"));
    log.flush();
    EXPECT_EQ(linesOf(dir_ / "access.log.1"), (std::vector<std::string>{"before", "still the old file"}));
    EXPECT_EQ(linesOf(path), (std::vector<std::string>{"after"}));
    struct stat st{};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_F(AccessLogTest, OpenFailuresNameTheSinkAndThePath) {
    AccessLog log(1);
    const auto missing = dir_ / "no-such-dir" / "access.log";
    auto opened = log.open({sink(dir_ / "ok.log"), sink(missing)});
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().message,
              "access_log[1].path: cannot open " + missing.string() + " for appending: No such file or directory");
    EXPECT_TRUE(log.fileOf((dir_ / "ok.log").string())) << "what opened stays open";
    EXPECT_FALSE(log.fileOf(missing.string()));
    // Opening the same paths again opens nothing twice.
    ASSERT_TRUE(log.open({sink(dir_ / "ok.log")}));
    EXPECT_EQ(log.counters().size(), 1u);
}

}  // namespace
}  // namespace hotgate

// FileServer: a minimal HTTP/1.0 server on 127.0.0.1:0 that serves the files of one directory,
// for the tests of `gwctl upgrade --binary http://...`. It runs on its own thread and answers
// one connection at a time:
//   GET /<name>            200 with the file's bytes and its Content-Length, or 404 when there is none
//   GET /nolength/<name>   the same without Content-Length (the body ends when the connection
//                          closes): a size only known once downloaded
//   GET /stall             reads the request and never answers (the connection stays open
//                          until the server stops): a download that times out
// Nothing else of HTTP is understood; every answer closes its connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <thread>
#include <vector>

namespace hotgate::test {

class FileServer {
public:
    // Binds 127.0.0.1:0 and starts serving `dir`; port() is 0 when the bind failed.
    explicit FileServer(std::filesystem::path dir);
    // Stops the thread and closes every connection, stalled ones included.
    ~FileServer();
    FileServer(const FileServer&) = delete;
    FileServer& operator=(const FileServer&) = delete;

    std::uint16_t port() const { return port_; }
    // http://127.0.0.1:<port>/<name>
    std::string url(const std::string& name) const;
    // Requests answered or stalled so far.
    std::uint64_t requests() const { return requests_.load(); }

private:
    void serve();
    void answer(int fd);

    std::filesystem::path dir_;
    int listen_fd_ = -1;
    int stop_pipe_[2] = {-1, -1};
    std::uint16_t port_ = 0;
    std::vector<int> stalled_;
    std::atomic<std::uint64_t> requests_{0};
    std::thread thread_;
};

}  // namespace hotgate::test

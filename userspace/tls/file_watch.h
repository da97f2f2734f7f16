// FileWatch: calls back when any of a set of files is replaced or rewritten (inotify on their
// directories, so a rename over the file — how certificate tooling and Kubernetes secrets update
// files — is seen as well as an in-place write). Events are coalesced: the callback runs once,
// `settle` after the last change, so a certificate and its key replaced one after the other are
// reloaded together rather than half-way (which the reload would refuse anyway).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "common/error.h"
#include "common/unique_fd.h"

namespace hotgate::tls {

class FileWatch {
public:
    // Watches `files` (absolute paths); `on_change` runs on the watch's own thread.
    static Result<std::unique_ptr<FileWatch>> start(const std::set<std::string>& files, std::function<void()> on_change,
                                                    std::chrono::milliseconds settle = std::chrono::milliseconds(300));
    ~FileWatch();
    FileWatch(const FileWatch&) = delete;
    FileWatch& operator=(const FileWatch&) = delete;

private:
    FileWatch() = default;
    void run();

    UniqueFd inotify_;
    UniqueFd stop_;  // eventfd: wakes run() for shutdown
    std::map<int, std::pair<std::string, std::set<std::string>>> watched_;  // wd -> (dir, names in it)
    std::function<void()> on_change_;
    std::chrono::milliseconds settle_{300};
    std::thread thread_;
};

}  // namespace hotgate::tls

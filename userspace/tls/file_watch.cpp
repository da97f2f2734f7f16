#include "tls/file_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>

namespace hotgate::tls {

Result<std::unique_ptr<FileWatch>> FileWatch::start(const std::set<std::string>& files, std::function<void()> on_change,
                                                    std::chrono::milliseconds settle) {
    std::unique_ptr<FileWatch> watch(new FileWatch());
    watch->inotify_ = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!watch->inotify_) return sysError(errno, "inotify_init1");
    watch->stop_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!watch->stop_) return sysError(errno, "eventfd");
    std::map<std::string, std::set<std::string>> by_dir;
    for (const auto& file : files) {
        const std::filesystem::path path(file);
        by_dir[path.parent_path().string()].insert(path.filename().string());
    }
    for (const auto& [dir, names] : by_dir) {
        const int wd = ::inotify_add_watch(watch->inotify_.get(), dir.c_str(),
                                           IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB);
        if (wd < 0) return sysError(errno, "watch directory ", dir);
        watch->watched_[wd] = {dir, names};
    }
    watch->on_change_ = std::move(on_change);
    watch->settle_ = settle;
    watch->thread_ = std::thread([w = watch.get()] { w->run(); });
    return watch;
}

FileWatch::~FileWatch() {
    const std::uint64_t one = 1;
    if (stop_) (void)!::write(stop_.get(), &one, sizeof one);
    if (thread_.joinable()) thread_.join();
}

void FileWatch::run() {
    bool pending = false;
    for (;;) {
        pollfd fds[2] = {{inotify_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        // While a change is pending, wait only `settle` for more; then act on it.
        const int ready = ::poll(fds, 2, pending ? static_cast<int>(settle_.count()) : -1);
        if (ready < 0 && errno == EINTR) continue;
        if (fds[1].revents) return;
        if (ready == 0) {
            pending = false;
            on_change_();
            continue;
        }
        alignas(inotify_event) char buffer[16 * 1024];
        const ssize_t n = ::read(inotify_.get(), buffer, sizeof buffer);
        for (ssize_t at = 0; n > 0 && at < n;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
            at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
            const auto found = watched_.find(event->wd);
            if (found == watched_.end() || event->len == 0) continue;
            if (found->second.second.count(event->name)) pending = true;
        }
    }
}

}  // namespace hotgate::tls

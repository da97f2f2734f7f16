#include "dataplane/bpffs.h"

#include <dirent.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace hotgate::dataplane {

bool isOnBpffs(const std::string& path) {
    struct statfs st {};
    if (::statfs(path.c_str(), &st) != 0) return false;
    return static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC;
}

bool pinExists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

bool pidAlive(std::uint32_t pid) {
    // Above INT_MAX, kill() would read a negative pid as a process group.
    if (pid == 0 || pid > static_cast<std::uint32_t>(INT32_MAX)) return false;
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

namespace {

bool isUnder(const std::string& path, std::string_view dir) {
    return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           (path.size() == dir.size() || path[dir.size()] == '/');
}

Result<void> mkdirOne(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
        return sysError(errno, "create bpffs directory ", path);
    return {};
}

}  // namespace

Result<void> ensureBpffsRoot(const std::string& root) {
    if (root.empty() || root[0] != '/') return fail("bpffs root '", root, "' is not an absolute path");
    const std::string mount_point(kBpffsMountPoint);
    if (isUnder(root, mount_point) && !isOnBpffs(mount_point)) {
        struct stat st {};
        if (::stat(mount_point.c_str(), &st) != 0)
            return sysError(errno, "bpffs mount point ", mount_point);
        if (::mount("bpf", mount_point.c_str(), "bpf", 0, "mode=0700") != 0)
            return sysError(errno, "mount bpffs on ", mount_point);
    }
    // Create each missing component below the mount point; everything must end up on bpffs.
    std::string path;
    size_t pos = 1;
    while (pos <= root.size()) {
        size_t next = root.find('/', pos);
        if (next == std::string::npos) next = root.size();
        path = root.substr(0, next);
        if (next > pos && isUnder(path, mount_point) && path.size() > mount_point.size()) {
            if (auto r = mkdirOne(path); !r) return r;
        }
        pos = next + 1;
    }
    if (!isOnBpffs(root)) return fail("bpffs root ", root, " is not on a bpf filesystem");
    return {};
}

Result<void> validatePinName(std::string_view name) {
    if (name.empty()) return fail("empty name for a pin directory");
    if (name.size() > 64) return fail("name '", name, "' is longer than 64 characters");
    if (name[0] == '_') return fail("name '", name, "' must not start with '_' (reserved)");
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) return fail("name '", name, "' has a character other than [A-Za-z0-9_-]");
    }
    return {};
}

std::string pinDir(const std::string& root, std::string_view name) {
    std::string dir = root;
    if (!dir.empty() && dir.back() != '/') dir += '/';
    dir += name;
    return dir;
}

std::string tempPinDir(const std::string& root, std::string_view name) {
    return pinDir(root, "_tmp_" + std::string(name) + "_" + std::to_string(::getpid()));
}

Result<std::string> ensurePinDir(const std::string& root, std::string_view name) {
    if (auto r = validatePinName(name); !r) return tl::unexpected(r.error());
    if (auto r = ensureBpffsRoot(root); !r) return tl::unexpected(r.error());
    std::string dir = pinDir(root, name);
    if (auto r = mkdirOne(dir); !r) return tl::unexpected(r.error());
    return dir;
}

Result<void> removePinTree(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        if (errno == ENOENT) return {};
        return sysError(errno, "open pin directory ", dir);
    }
    Result<void> result;
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string path = dir + "/" + name;
        if (e->d_type == DT_DIR) {
            if (auto r = removePinTree(path); !r && result) result = r;
        } else if (::unlink(path.c_str()) != 0 && errno != ENOENT && result) {
            result = sysError(errno, "unpin ", path);
        }
    }
    ::closedir(d);
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && result)
        result = sysError(errno, "remove pin directory ", dir);
    return result;
}

}  // namespace hotgate::dataplane

#include "fleet/etcd_config_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/config_loader.h"
#include "fleet/config_document.h"
#include "observability/logging.h"

namespace hotgate::fleet {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::seconds kLeaseTtl{10};
constexpr std::chrono::seconds kRenewEvery{3};
constexpr std::chrono::milliseconds kFirstBackoff{200};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr int kCandidatesKept = 3;

std::string readText(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Writes `text` to `path` atomically (a temporary beside it, fsynced, renamed), mode 0600.
Result<void> writeAtomically(const std::string& path, const std::string& text) {
    const std::string temporary = path + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return sysError(errno, "write ", temporary);
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return sysError(err, "write ", temporary);
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        return sysError(err, "sync ", temporary);
    }
    ::close(fd);
    if (::rename(temporary.c_str(), path.c_str()) != 0) return sysError(errno, "rename ", temporary, " to ", path);
    return {};
}

}  // namespace

EtcdConfigSource::EtcdConfigSource(EtcdSourceConfig source, std::string local_path, const std::string& local_text)
    : source_(std::move(source)),
      local_path_(std::move(local_path)),
      local_text_(localPart(local_text)),
      watch_client_(source_.endpoints),
      status_client_(source_.endpoints) {}

EtcdConfigSource::~EtcdConfigSource() { stop(); }

Result<std::string> EtcdConfigSource::candidateFile(const EtcdValue& kv) {
    auto merged = mergeConfig(local_text_, local_path_, kv.value, fleetName(), kv.mod_revision);
    if (!merged) return tl::unexpected(merged.error());
    const auto directory = std::filesystem::path(source_.last_good).parent_path();
    const auto path = (directory / ("hotgate-etcd-" + std::to_string(kv.mod_revision) + ".yaml")).string();
    auto loaded = loadConfigText(merged->text, path);
    if (!loaded) {
        std::string message;
        for (const auto& problem : attributeProblems(loaded.error(), *merged, fleetName()))
            message += (message.empty() ? "" : "\n") + problem.format();
        return fail(message);
    }
    if (auto written = writeAtomically(path, merged->text); !written) return tl::unexpected(written.error());
    // Keep the newest few candidates: the file a running version was loaded from stays.
    std::vector<std::filesystem::path> old;
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(directory, ignored))
        if (entry.path().filename().string().starts_with("hotgate-etcd-")) old.push_back(entry.path());
    std::sort(old.begin(), old.end(), [](const auto& a, const auto& b) {
        const auto revision = [](const std::filesystem::path& p) {
            return std::atoll(p.filename().string().substr(13).c_str());
        };
        return revision(a) > revision(b);
    });
    for (std::size_t i = kCandidatesKept; i < old.size(); ++i) std::filesystem::remove(old[i], ignored);
    return path;
}

Result<EtcdConfigSource::Start> EtcdConfigSource::prepareStart() {
    Start start;
    auto read = watch_client_.get(fleetKey());
    if (read && read->kv) {
        auto path = candidateFile(*read->kv);
        if (!path) return fail("the config in ", fleetName(), " (mod_revision ", read->kv->mod_revision,
                               ") is refused:\n", path.error().message);
        start.path = *path;
        start.revision = read->kv->mod_revision;
        start.watch_from = read->revision;
        return start;
    }
    // etcd cannot be reached, or holds no config: the last config applied, with this host's
    // current part.
    const std::string why = read ? fleetName() + " holds no config (etcd " + watch_client_.endpoint() + ")"
                                 : "etcd cannot be reached (" + read.error().message + ")";
    const std::string last = readText(source_.last_good);
    const std::string fleet = etcdPart(last);
    if (fleet.empty()) return fail(why, " and ", source_.last_good, " holds no config applied from it");
    std::int64_t revision = 0;
    if (const auto at = last.find(", mod_revision "); at != std::string::npos)
        revision = std::atoll(last.c_str() + at + 15);
    auto path = candidateFile(EtcdValue{fleet, revision});
    if (!path) return fail(why, " and the config in ", source_.last_good, " is refused:\n", path.error().message);
    log::warn(why, ": serving ", source_.last_good, " (mod_revision ", revision, ") until it can");
    start.path = *path;
    start.revision = revision;
    start.watch_from = revision;
    start.from_last_good = true;
    return start;
}

void EtcdConfigSource::run(const Start& start, Apply apply, std::function<std::string()> version) {
    apply_ = std::move(apply);
    version_ = std::move(version);
    {
        std::lock_guard lock(mutex_);
        applied_ = start.revision;
        watch_from_ = start.watch_from;
        state_ = start.from_last_good ? "serving_last_good" : "serving";
    }
    if (!start.from_last_good) writeLastGood(start.path);
    watcher_ = std::thread([this] { watchLoop(); });
    status_ = std::thread([this] { statusLoop(); });
}

void EtcdConfigSource::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    changed_.notify_all();
    watch_client_.interruptWatch();
    if (watcher_.joinable()) watcher_.join();
    if (status_.joinable()) status_.join();
}

void EtcdConfigSource::writeLastGood(const std::string& path) {
    if (auto written = writeAtomically(source_.last_good, readText(path)); !written)
        log::warn("fleet: cannot keep the applied config: ", written.error().message);
}

void EtcdConfigSource::setStatus(const std::string& state, std::vector<std::string> problems) {
    {
        std::lock_guard lock(mutex_);
        state_ = state;
        problems_ = std::move(problems);
        ++status_generation_;
    }
    changed_.notify_all();
}

Result<std::int64_t> EtcdConfigSource::catchUp() {
    auto read = watch_client_.get(fleetKey());
    if (!read) return tl::unexpected(read.error());
    if (!read->kv) {
        log::warn("fleet: ", fleetName(), " is gone; serving what this host has");
        setStatus("no_config", {});
    } else {
        applyValue(*read->kv);
    }
    return read->revision;
}

void EtcdConfigSource::applyValue(const EtcdValue& kv) {
    {
        std::lock_guard lock(mutex_);
        // Only forward: a revision at or below the one served is never applied.
        if (kv.mod_revision <= applied_) return;
    }
    auto path = candidateFile(kv);
    if (!path) {
        log::warn("fleet: the config in ", fleetName(), " at mod_revision ", kv.mod_revision,
                  " is refused; serving what this host has:\n", path.error().message);
        std::vector<std::string> problems;
        std::istringstream lines(path.error().message);
        for (std::string line; std::getline(lines, line);) problems.push_back(line);
        {
            std::lock_guard lock(mutex_);
            applied_ = kv.mod_revision;  // refused, not retried until etcd holds a newer one
        }
        setStatus("refused", std::move(problems));
        return;
    }
    const auto reply = apply_(*path, "etcd mod_revision " + std::to_string(kv.mod_revision));
    {
        std::lock_guard lock(mutex_);
        applied_ = kv.mod_revision;
    }
    if (reply.value("ok", false)) {
        log::info("fleet: applied ", fleetName(), " at mod_revision ", kv.mod_revision, ": ",
                  reply.value("message", std::string()));
        writeLastGood(*path);
        setStatus("serving", {});
    } else {
        std::vector<std::string> problems{reply.value("message", std::string())};
        for (const auto& problem : reply.value("problems", nlohmann::json::array()))
            if (problem.is_string()) problems.push_back(problem.get<std::string>());
        log::warn("fleet: ", fleetName(), " at mod_revision ", kv.mod_revision, " refused: ", problems.front());
        setStatus("refused", std::move(problems));
    }
}

void EtcdConfigSource::watchLoop() {
    auto backoff = kFirstBackoff;
    std::int64_t from;
    {
        std::lock_guard lock(mutex_);
        from = watch_from_;
    }
    bool need_read = from == 0;  // started from last_good: read first
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            if (stopping_) return;
        }
        if (need_read) {
            auto read = catchUp();
            if (!read) {
                log::debug("fleet: ", read.error().message);
                std::unique_lock lock(mutex_);
                changed_.wait_for(lock, backoff, [this] { return stopping_; });
                backoff = std::min(backoff * 2, kMaxBackoff);
                continue;
            }
            from = *read;
            need_read = false;
        }
        const auto end = watch_client_.watch(fleetKey(), from + 1, [&](std::int64_t mod_revision) {
            from = std::max(from, mod_revision);
            // The event says a change happened; the key's value is read whole, as it is now.
            std::int64_t applied;
            {
                std::lock_guard lock(mutex_);
                applied = applied_;
            }
            if (mod_revision > applied) {
                if (auto read = catchUp(); read) from = std::max(from, *read);
            }
            backoff = kFirstBackoff;
        });
        switch (end.kind) {
            case WatchEnd::Kind::Interrupted: return;
            case WatchEnd::Kind::Compacted:
                log::info("fleet: ", fleetName(), " was compacted past revision ", from + 1, " (to ",
                          end.compact_revision, "): reading it again");
                need_read = true;
                continue;
            case WatchEnd::Kind::Failed: break;
        }
        log::debug("fleet: watch ended: ", end.error, "; again in ", backoff.count(), " ms");
        need_read = true;  // whatever happened meanwhile is read, then watched from there
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, backoff, [this] { return stopping_; });
        backoff = std::min(backoff * 2, kMaxBackoff);
    }
}

nlohmann::json EtcdConfigSource::statusDocument() {
    std::lock_guard lock(mutex_);
    return {{"host", source_.host_id},
            {"version", version_ ? version_() : std::string()},
            {"revision", applied_},
            {"state", state_},
            {"problems", problems_},
            {"updated", std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()}};
}

void EtcdConfigSource::statusLoop() {
    const std::string key = source_.prefix + "/hosts/" + source_.host_id;
    std::int64_t lease = 0;
    std::uint64_t published = 0;
    auto next_renewal = std::chrono::steady_clock::now();
    for (;;) {
        std::uint64_t generation;
        {
            std::unique_lock lock(mutex_);
            changed_.wait_until(lock, next_renewal, [&] { return stopping_ || status_generation_ != published; });
            if (stopping_) return;
            generation = status_generation_;
        }
        next_renewal = std::chrono::steady_clock::now() + kRenewEvery;
        // Renewed, and written again every round: another process of this host (the version
        // before an upgrade, on its way out) may have written its own meanwhile.
        if (lease != 0) {
            auto alive = status_client_.keepAlive(lease);
            if (!alive || !*alive) lease = 0;  // expired or unreachable: registered again below
        }
        if (lease == 0) {
            auto granted = status_client_.grantLease(kLeaseTtl);
            if (!granted) {
                log::debug("fleet: status: ", granted.error().message);
                continue;
            }
            lease = *granted;
        }
        if (auto put = status_client_.put(key, statusDocument().dump(), lease); !put) {
            log::debug("fleet: status: ", put.error().message);
            lease = 0;
            continue;
        }
        published = generation;
    }
}

}  // namespace hotgate::fleet

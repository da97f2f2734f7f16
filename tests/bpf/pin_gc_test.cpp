// Garbage collection of pin groups (dataplane/bpffs_gc.h, health/gateway_pins.h) on the real
// kernel, with a private bpffs root: groups whose sockets and pids are all gone are removed,
// a group with a live socket or a live registered pid never is, nor anything the collector
// does not know (the XDP front, other directories), and a group published under the root's
// lock is never collected before its publisher claims it.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "dataplane/bpffs_gc.h"
#include "dataplane/bpffs_publish.h"
#include "dataplane/front_loader.h"
#include "dataplane/steer_loader.h"
#include "health/gateway_pins.h"
#include "health/health_loader.h"
#include "netns_bpf_test.h"
#include "tcp_util.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;
using dataplane::PruneVerdict;
using dataplane::PrunedGroup;
using dataplane::SteerLoader;

// A process that ran a version of listener `name` and is gone, or (with `linger`) that closed
// its listening socket and still runs until released: the state a draining gateway is in.
class PastVersion {
public:
    PastVersion(const std::string& root, const std::string& name, std::uint16_t port, bool linger) {
        int ready[2], release[2];
        if (::pipe(ready) != 0 || ::pipe(release) != 0) return;
        pid_ = ::fork();
        if (pid_ == 0) {
            ::close(ready[0]);
            ::close(release[1]);
            char ok = '0';
            if (UniqueFd fd = listenReuseport(port); fd) {
                int fds[] = {fd.get()};
                if (auto loader = SteerLoader::attachListener(name, fds, 0, true, root)) ok = '1';
            }  // the listener closes: the kernel takes it out of the sockarray
            (void)!::write(ready[1], &ok, 1);
            char c;
            if (linger) (void)!::read(release[0], &c, 1);
            ::_exit(0);
        }
        ::close(ready[1]);
        ::close(release[0]);
        release_ = release[1];
        char ok = '0';
        attached_ = ::read(ready[0], &ok, 1) == 1 && ok == '1';
        ::close(ready[0]);
        if (!linger) exit();
    }
    ~PastVersion() { exit(); }

    bool attached() const { return attached_; }
    pid_t pid() const { return pid_; }
    // Lets the process end and reaps it: from then on its pid is gone.
    void exit() {
        if (release_ >= 0) ::close(std::exchange(release_, -1));
        if (pid_ > 0 && !reaped_) reaped_ = ::waitpid(pid_, nullptr, 0) == pid_;
    }

private:
    pid_t pid_ = -1;
    int release_ = -1;
    bool attached_ = false;
    bool reaped_ = false;
};

pid_t deadPid() {
    pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    return child;
}

class PinGcTest : public NetnsBpfTest {
protected:
    std::string dir(const std::string& name) const { return root_->path() + "/" + name; }

    std::vector<PrunedGroup> prune() {
        auto pruned = health::pruneGatewayPins(root_->path());
        EXPECT_TRUE(pruned) << pruned.error().what();
        return pruned ? *pruned : std::vector<PrunedGroup>{};
    }

    static const PrunedGroup* verdictOf(const std::vector<PrunedGroup>& groups, const std::string& dir) {
        for (const auto& g : groups)
            if (g.dir == dir) return &g;
        return nullptr;
    }
};

TEST_F(PinGcTest, PruneRemovesOnlyGroupsNobodyServes) {
    if (IsSkipped() || HasFatalFailure()) return;
    // Served: this process's listener, in the sockarray.
    UniqueFd listener = listenReuseport(18101);
    ASSERT_TRUE(listener);
    int fds[] = {listener.get()};
    auto live = SteerLoader::attachListener("web", fds, 0, true, root_->path());
    ASSERT_TRUE(live) << live.error().what();
    // Garbage: its version is gone, and with it its sockets.
    PastVersion gone(root_->path(), "gone", 18102, /*linger=*/false);
    ASSERT_TRUE(gone.attached());
    // Served in a way: no socket left, but its registered owner still runs (draining).
    PastVersion draining(root_->path(), "draining", 18103, /*linger=*/true);
    ASSERT_TRUE(draining.attached());
    // A crashed publisher's temporary directory, and a publisher's that still runs.
    const std::string dead_tmp = dir("_tmp_web_" + std::to_string(deadPid()));
    const std::string live_tmp = dir("_tmp_web_" + std::to_string(::getpid()));
    ASSERT_EQ(::mkdir(dead_tmp.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(live_tmp.c_str(), 0700), 0);
    // Never the collector's: the XDP front (the operator's deny list) and unknown directories.
    auto front = dataplane::FrontLoader::load(root_->path());
    ASSERT_TRUE(front) << front.error().what();
    front->reset();
    ASSERT_EQ(::mkdir(dir("notes").c_str(), 0700), 0);

    const auto pruned = prune();
    auto expect = [&](const std::string& path, PruneVerdict verdict) {
        const PrunedGroup* group = verdictOf(pruned, path);
        ASSERT_NE(group, nullptr) << path << " was not judged";
        EXPECT_EQ(group->verdict, verdict) << path << " (" << group->what << ") " << group->error;
    };
    expect(dir("web"), PruneVerdict::kInUse);
    expect(dir("gone"), PruneVerdict::kRemoved);
    expect(dir("draining"), PruneVerdict::kInUse);
    expect(dead_tmp, PruneVerdict::kRemoved);
    expect(live_tmp, PruneVerdict::kInUse);
    EXPECT_EQ(verdictOf(pruned, dir("front")), nullptr) << "the XDP front must never be judged";
    EXPECT_EQ(verdictOf(pruned, dir("notes")), nullptr) << "an unknown directory must never be judged";
    EXPECT_EQ(verdictOf(pruned, dir("gone"))->what, "steer listener group");

    EXPECT_FALSE(dataplane::pinExists(dir("gone")));
    EXPECT_FALSE(dataplane::pinExists(dead_tmp));
    for (const char* kept : {"web", "draining", "front", "notes"}) EXPECT_TRUE(dataplane::pinExists(dir(kept))) << kept;
    EXPECT_TRUE(dataplane::FrontPins::open(root_->path())) << "the deny list went";
    auto names = dataplane::SteerPins::listListeners(root_->path());
    ASSERT_TRUE(names);
    EXPECT_EQ(*names, (std::vector<std::string>{"draining", "web"}));

    // The live group still steers: its pins and program are whole.
    for (int i = 0; i < 5; ++i) {
        UniqueFd client = connectTo(18101);
        ASSERT_TRUE(client) << "connect #" << i;
        auto accepted = acceptAny(std::vector<int>{listener.get()});
        ASSERT_TRUE(accepted) << "connection #" << i << " was not accepted";
    }
    auto stats = (*live)->pins().readStats(0);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->count[STEER_CTR_SELECTED], 5u);

    // Once the draining version exits, its group is garbage too; the live one stays.
    draining.exit();
    const auto again = prune();
    ASSERT_NE(verdictOf(again, dir("draining")), nullptr);
    EXPECT_EQ(verdictOf(again, dir("draining"))->verdict, PruneVerdict::kRemoved);
    ASSERT_NE(verdictOf(again, dir("web")), nullptr);
    EXPECT_EQ(verdictOf(again, dir("web"))->verdict, PruneVerdict::kInUse);
    EXPECT_TRUE(dataplane::pinExists(dir("web")));
}

// A health set whose registered processes are all gone is unpinned (its programs detach); one
// with a live registered process stays.
TEST_F(PinGcTest, HealthSetIsGarbageOnceEveryRegisteredPidIsGone) {
    if (IsSkipped() || HasFatalFailure()) return;
    const std::string set = dir(health::kHealthPinDir);
    {
        auto pins = health::loadHealth(root_->path());
        ASSERT_TRUE(pins) << pins.error().what();
        ASSERT_TRUE((*pins)->registerProcess(0, "gone/1", static_cast<std::uint32_t>(deadPid())));
    }
    const auto pruned = prune();
    ASSERT_NE(verdictOf(pruned, set), nullptr);
    EXPECT_EQ(verdictOf(pruned, set)->verdict, PruneVerdict::kRemoved);
    EXPECT_EQ(verdictOf(pruned, set)->what, "health profile");
    EXPECT_FALSE(dataplane::pinExists(set));

    auto pins = health::loadHealth(root_->path());
    ASSERT_TRUE(pins) << pins.error().what();
    ASSERT_TRUE((*pins)->registerProcess(0, "alive/1", static_cast<std::uint32_t>(::getpid())));
    const auto kept = prune();
    ASSERT_NE(verdictOf(kept, set), nullptr);
    EXPECT_EQ(verdictOf(kept, set)->verdict, PruneVerdict::kInUse);
    EXPECT_TRUE(health::HealthPins::open(root_->path())) << "a served health set was touched";
    auto left = (*pins)->leave(static_cast<std::uint32_t>(::getpid()));
    ASSERT_TRUE(left) << left.error().what();
    EXPECT_TRUE(*left) << "the last process to leave unpins";
}

// Between its publication and its claim (sockets or pid registered), a group looks like
// garbage; the publisher holds the root's lock across that window, and a collector waits.
TEST_F(PinGcTest, PruneWaitsForAPublisherToClaimItsGroup) {
    if (IsSkipped() || HasFatalFailure()) return;
    const dataplane::MapSpec claim{"claim_map", BPF_MAP_TYPE_ARRAY, 4, 4, 1};
    // A kind whose group is served while claim_map[0] holds a live pid.
    auto claimedBy = [](const std::string& group) -> std::uint32_t {
        UniqueFd fd(bpf_obj_get((group + "/claim_map").c_str()));
        __u32 key = 0, pid = 0;
        if (fd) bpf_map_lookup_elem(fd.get(), &key, &pid);
        return pid;
    };
    const std::vector<dataplane::PinGroupKind> kinds{{
        "claimed group",
        [](const std::string& group) { return dataplane::pinExists(group + "/claim_map"); },
        [claimedBy](const std::string& group) { return dataplane::pidAlive(claimedBy(group)); },
    }};
    auto lock = dataplane::PinRootLock::acquire(root_->path());
    ASSERT_TRUE(lock) << lock.error().what();
    const dataplane::PinSetRecipe recipe{
        "claimed",
        std::span(&claim, 1),
        [&claim](const std::string& into) -> Result<void> {
            UniqueFd fd(bpf_map_create(claim.type, claim.name, claim.key_size, claim.value_size, claim.max_entries, nullptr));
            if (!fd || bpf_obj_pin(fd.get(), (into + "/claim_map").c_str()) != 0) return sysError(errno, "pin claim_map");
            return {};
        },
        [](const std::string&) { return true; },
    };
    auto published = dataplane::publishPinSet(*lock, recipe);
    ASSERT_TRUE(published) << published.error().what();

    std::atomic<bool> done{false};
    Result<std::vector<PrunedGroup>> pruned = std::vector<PrunedGroup>{};
    std::thread collector([&] {
        pruned = dataplane::prunePinGroups(root_->path(), kinds);
        done = true;
    });
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(done.load()) << "the collector ran while a publisher held the root's lock";
    UniqueFd fd(bpf_obj_get((published->dir + "/claim_map").c_str()));
    ASSERT_TRUE(fd);
    __u32 key = 0, self = static_cast<__u32>(::getpid());
    ASSERT_EQ(bpf_map_update_elem(fd.get(), &key, &self, BPF_ANY), 0);
    { auto released = std::move(*lock); }
    collector.join();
    ASSERT_TRUE(pruned) << pruned.error().what();
    ASSERT_NE(verdictOf(*pruned, published->dir), nullptr);
    EXPECT_EQ(verdictOf(*pruned, published->dir)->verdict, PruneVerdict::kInUse);
    EXPECT_TRUE(dataplane::pinExists(published->dir));

    // The same group unclaimed is garbage: what kept it was the lock, then the claim.
    __u32 nobody = 0;
    ASSERT_EQ(bpf_map_update_elem(fd.get(), &key, &nobody, BPF_ANY), 0);
    auto unclaimed = dataplane::prunePinGroups(root_->path(), kinds);
    ASSERT_TRUE(unclaimed) << unclaimed.error().what();
    ASSERT_NE(verdictOf(*unclaimed, published->dir), nullptr);
    EXPECT_EQ(verdictOf(*unclaimed, published->dir)->verdict, PruneVerdict::kRemoved);
    EXPECT_FALSE(dataplane::pinExists(published->dir));
}

}  // namespace
}  // namespace hotgate::test

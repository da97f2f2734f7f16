// steer: version-slot steering on the real kernel. Every test runs in its own network
// namespace (127.0.0.1 only) with a private bpffs root. sk_reuseport cannot be driven by
// BPF_PROG_TEST_RUN (ENOTSUPP), so these use real sockets.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/steer_loader.h"
#include "support/netns.h"
#include "support/privilege.h"
#include "netns_bpf_test.h"
#include "tcp_util.h"

namespace hotgate::test {
namespace {

using dataplane::SteerLoader;
using dataplane::SteerOptions;
using dataplane::SteerPins;

constexpr uint16_t kPort = 18080;
constexpr const char* kListener = "web";

class SteerTest : public NetnsBpfTest {
protected:
    void SetUp() override {
        NetnsBpfTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        raiseFdLimit(8192);
    }

    void TearDown() override {
        slots_.clear();
        loaders_.clear();
        NetnsBpfTest::TearDown();
    }

    // Opens `count` listeners on kPort for `slot` and attaches them through a new loader.
    void addSlot(uint32_t slot, size_t count, bool make_active, SteerOptions options = {}) {
        std::vector<int> fds;
        for (size_t i = 0; i < count; ++i) {
            UniqueFd fd = listenReuseport(kPort);
            ASSERT_TRUE(fd) << "listen on 127.0.0.1:" << kPort << ": " << std::strerror(errno);
            fds.push_back(fd.get());
            slots_[slot].push_back(std::move(fd));
        }
        auto loader = SteerLoader::attachListener(kListener, fds, slot, make_active, root_->path(),
                                                  options);
        ASSERT_TRUE(loader) << loader.error().what();
        loaders_.push_back(std::move(*loader));
    }

    // All listeners, in a fixed order, with the slot each belongs to.
    void listeners(std::vector<int>& fds, std::vector<uint32_t>& slot_of) {
        fds.clear();
        slot_of.clear();
        for (auto& [slot, socks] : slots_) {
            for (auto& s : socks) {
                if (!s) continue;
                fds.push_back(s.get());
                slot_of.push_back(slot);
            }
        }
    }

    SteerPins& pins() { return loaders_.front()->pins(); }

    // Makes `n` connections one by one and returns how many each slot accepted.
    std::map<uint32_t, int> connectMany(int n) {
        std::vector<int> fds;
        std::vector<uint32_t> slot_of;
        listeners(fds, slot_of);
        std::map<uint32_t, int> per_slot;
        for (int i = 0; i < n; ++i) {
            UniqueFd client = connectTo(kPort);
            EXPECT_TRUE(client) << "connect #" << i << ": " << std::strerror(errno);
            if (!client) break;
            auto accepted = acceptAny(fds);
            EXPECT_TRUE(accepted) << "connection #" << i << " was not accepted by any listener";
            if (!accepted) break;
            ++per_slot[slot_of[accepted->first]];
            closeWithReset(client);
            closeWithReset(accepted->second);
        }
        return per_slot;
    }

    std::map<uint32_t, std::vector<UniqueFd>> slots_;
    std::vector<std::unique_ptr<SteerLoader>> loaders_;
};

TEST_F(SteerTest, NewConnectionsFollowTheControlEntry) {
    ASSERT_NO_FATAL_FAILURE(addSlot(0, 2, true));
    ASSERT_NO_FATAL_FAILURE(addSlot(1, 2, false));
    std::vector<int> fds;
    std::vector<uint32_t> slot_of;
    listeners(fds, slot_of);

    // Ten connections stay established on slot 0 across the flip.
    std::vector<std::pair<UniqueFd, UniqueFd>> kept;
    for (int i = 0; i < 10; ++i) {
        UniqueFd client = connectTo(kPort);
        ASSERT_TRUE(client);
        auto accepted = acceptAny(fds);
        ASSERT_TRUE(accepted);
        ASSERT_EQ(slot_of[accepted->first], 0u);
        kept.emplace_back(std::move(client), std::move(accepted->second));
    }

    auto before = connectMany(1000);
    EXPECT_EQ(before[0], 1000);
    EXPECT_EQ(before[1], 0);

    auto control = pins().cutover(1);
    ASSERT_TRUE(control) << control.error().what();
    EXPECT_EQ(control->active_slot, 1);

    auto after = connectMany(1000);
    EXPECT_EQ(after[1], 1000);
    EXPECT_EQ(after[0], 0);

    for (auto& [client, server] : kept) {
        ASSERT_TRUE(writeAll(client.get(), "ping"));
        int err = 0;
        EXPECT_EQ(readSome(server.get(), 4, err), "ping") << std::strerror(err);
        ASSERT_TRUE(writeAll(server.get(), "pong"));
        EXPECT_EQ(readSome(client.get(), 4, err), "pong") << std::strerror(err);
    }

    auto slot0 = pins().readStats(0);
    auto slot1 = pins().readStats(1);
    ASSERT_TRUE(slot0 && slot1);
    EXPECT_EQ(slot0->count[STEER_CTR_SELECTED], 1010u);
    EXPECT_EQ(slot1->count[STEER_CTR_SELECTED], 1000u);
    EXPECT_EQ(slot0->count[STEER_CTR_FALLBACK] + slot1->count[STEER_CTR_FALLBACK], 0u);
}

TEST_F(SteerTest, CanaryTakesItsWeightAndKeepsEachFlowOnOneSlot) {
    ASSERT_NO_FATAL_FAILURE(addSlot(0, 2, true));
    ASSERT_NO_FATAL_FAILURE(addSlot(1, 2, false));
    auto control = pins().setCanary(1, 1000);  // 10%
    ASSERT_TRUE(control) << control.error().what();

    auto counts = connectMany(10000);
    EXPECT_EQ(counts[0] + counts[1], 10000);
    EXPECT_GE(counts[1], 800) << "canary share below 8%";
    EXPECT_LE(counts[1], 1200) << "canary share above 12%";
    auto slot1 = pins().readStats(1);
    ASSERT_TRUE(slot1);
    EXPECT_EQ(slot1->count[STEER_CTR_CANARY], static_cast<uint64_t>(counts[1]));

    // The same 4-tuple (fixed source port) always lands on the same slot.
    ASSERT_TRUE(pins().setCanary(1, 5000));
    std::vector<int> fds;
    std::vector<uint32_t> slot_of;
    listeners(fds, slot_of);
    std::map<uint32_t, int> seen;
    for (uint16_t src = 40000; src < 40040; ++src) {
        std::optional<uint32_t> first;
        for (int round = 0; round < 4; ++round) {
            UniqueFd client = connectTo(kPort, src);
            ASSERT_TRUE(client) << "connect from port " << src << ": " << std::strerror(errno);
            auto accepted = acceptAny(fds);
            ASSERT_TRUE(accepted);
            uint32_t slot = slot_of[accepted->first];
            if (!first) first = slot;
            EXPECT_EQ(slot, *first) << "flow from port " << src << " moved in round " << round;
            closeWithReset(client);
            closeWithReset(accepted->second);
        }
        ++seen[*first];
    }
    EXPECT_GT(seen[0], 0);
    EXPECT_GT(seen[1], 0);
}

// Queues `count` connections on slot 0, flips to slot 1, closes slot 0's listeners and
// reports how many clients got the response and how many were reset.
struct MigrationResult {
    int served = 0;
    int resets = 0;
    int other = 0;
};

class MigrationTest : public SteerTest {
protected:
    MigrationResult run(int count) {
        MigrationResult result;
        std::vector<UniqueFd> clients;
        for (int i = 0; i < count; ++i) {
            UniqueFd c = connectTo(kPort);
            EXPECT_TRUE(c) << "connect #" << i << ": " << std::strerror(errno);
            if (!c) return result;
            clients.push_back(std::move(c));
        }
        auto queued = pins().readStats(0);
        EXPECT_TRUE(queued);
        if (queued) {
            EXPECT_EQ(queued->count[STEER_CTR_SELECTED], static_cast<uint64_t>(count));
        }

        EXPECT_TRUE(pins().cutover(1));
        slots_[0].clear();  // close the old version's listeners with `count` un-accepted

        std::vector<int> fds;
        std::vector<uint32_t> slot_of;
        listeners(fds, slot_of);
        std::vector<UniqueFd> accepted;
        // Bounded: stop at the first 500 ms without a new connection.
        while (static_cast<int>(accepted.size()) < count) {
            auto a = acceptAny(fds, 500);
            if (!a) break;
            EXPECT_TRUE(writeAll(a->second.get(), "ok\n"));
            accepted.push_back(std::move(a->second));
        }
        for (auto& c : clients) {
            int err = 0;
            std::string got = readSome(c.get(), 3, err, 500);
            if (got == "ok\n")
                ++result.served;
            else if (err == ECONNRESET)
                ++result.resets;
            else
                ++result.other;
        }
        return result;
    }
};

TEST_F(MigrationTest, QueuedConnectionsMoveToTheActiveSlot) {
    ASSERT_NO_FATAL_FAILURE(addSlot(0, 2, true));
    ASSERT_NO_FATAL_FAILURE(addSlot(1, 2, false));
    MigrationResult r = run(500);
    EXPECT_EQ(r.served, 500);
    EXPECT_EQ(r.resets, 0);
    EXPECT_EQ(r.other, 0);
    auto slot1 = pins().readStats(1);
    ASSERT_TRUE(slot1);
    EXPECT_EQ(slot1->count[STEER_CTR_MIGRATED], 500u);
}

// The control experiment: the same program attached as plain sk_reuseport (no migrate),
// tcp_migrate_req off, so closing the listeners resets what was queued on them.
TEST_F(MigrationTest, PlainReuseportResetsQueuedConnections) {
    {
        std::ofstream sysctl("/proc/sys/net/ipv4/tcp_migrate_req");
        sysctl << "0";
    }
    SteerOptions plain;
    plain.migrate = false;
    ASSERT_NO_FATAL_FAILURE(addSlot(0, 2, true, plain));
    ASSERT_NO_FATAL_FAILURE(addSlot(1, 2, false, plain));
    MigrationResult r = run(500);
    std::cout << "plain sk_reuseport, 500 queued: " << r.resets << " reset, " << r.served
              << " served, " << r.other << " other\n";
    EXPECT_GT(r.resets, 0) << "served " << r.served << ", other " << r.other;
    EXPECT_EQ(r.served + r.resets + r.other, 500);
}

TEST_F(SteerTest, EmptyOrMissingSlotFallsBackWithoutRefusing) {
    ASSERT_NO_FATAL_FAILURE(addSlot(0, 2, true));
    // Slot 1 registered, then its sockets closed: a count left behind by a dead version.
    ASSERT_NO_FATAL_FAILURE(addSlot(1, 2, false));
    slots_[1].clear();
    auto live = pins().liveSockets(1);
    ASSERT_TRUE(live);
    EXPECT_EQ(*live, 0u);

    EXPECT_FALSE(pins().cutover(1)) << "cutover to a slot with no live socket must be refused";
    ASSERT_TRUE(pins().cutover(1, /*force=*/true));
    auto counts = connectMany(100);
    EXPECT_EQ(counts[0], 100);
    auto stats = pins().readStats(1);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->count[STEER_CTR_FALLBACK], 100u);

    // Slot 2 was never registered.
    ASSERT_TRUE(pins().writeControl(2, 2, 0));
    counts = connectMany(100);
    EXPECT_EQ(counts[0], 100);
    stats = pins().readStats(2);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->count[STEER_CTR_FALLBACK], 100u);

    // A control entry naming a slot that does not exist (written raw, bypassing checks).
    steer_control bad{};
    bad.active_slot = 200;
    bad.canary_slot = 200;
    __u32 key = 0;
    ASSERT_EQ(bpf_map_update_elem(pins().ctlMapFd(), &key, &bad, BPF_ANY), 0);
    counts = connectMany(100);
    EXPECT_EQ(counts[0], 100);
    stats = pins().readStats(STEER_STATS_ROW_INVALID);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->count[STEER_CTR_FALLBACK], 100u);
}

TEST_F(SteerTest, StalePinsOfADeadVersionAreReused) {
    auto first = SteerLoader::chooseSlot(kListener, root_->path());
    ASSERT_TRUE(first) << first.error().what();
    EXPECT_EQ(*first, 0u) << "the first version to start takes slot 0";

    // A first version runs in a child process, takes slot 0, and dies.
    int ready[2], release[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    ASSERT_EQ(::pipe2(release, O_CLOEXEC), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(ready[0]);
        ::close(release[1]);  // so the parent's close is the EOF that ends this version
        UniqueFd fd = listenReuseport(kPort);
        int fds[] = {fd.get()};
        auto loader = SteerLoader::attachListener(kListener, fds, 0, true, root_->path());
        char ok = loader ? '1' : '0';
        (void)!::write(ready[1], &ok, 1);
        char c;
        (void)!::read(release[0], &c, 1);
        ::_exit(0);
    }
    ::close(ready[1]);
    ::close(release[0]);
    char ok = 0;
    ASSERT_EQ(::read(ready[0], &ok, 1), 1);
    ASSERT_EQ(ok, '1') << "child could not attach";

    // While it lives, its slot is not ours to take, and the next start is pointed elsewhere.
    auto chosen = SteerLoader::chooseSlot(kListener, root_->path());
    ASSERT_TRUE(chosen) << chosen.error().what();
    EXPECT_EQ(*chosen, 1u);
    {
        UniqueFd fd = listenReuseport(kPort);
        int fds[] = {fd.get()};
        auto taken = SteerLoader::attachListener(kListener, fds, 0, true, root_->path());
        ASSERT_FALSE(taken);
        EXPECT_NE(taken.error().what().find("held by live pid"), std::string::npos)
            << taken.error().what();
    }

    ::close(release[1]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ::close(ready[0]);

    // The next start reuses the pinned group and takes slot 0 again.
    chosen = SteerLoader::chooseSlot(kListener, root_->path());
    ASSERT_TRUE(chosen) << chosen.error().what();
    EXPECT_EQ(*chosen, 0u);
    ASSERT_NO_FATAL_FAILURE(addSlot(0, 2, true));
    auto counts = connectMany(100);
    EXPECT_EQ(counts[0], 100);
    auto slot = pins().readSlot(0);
    ASSERT_TRUE(slot);
    EXPECT_EQ(slot->owner_pid, static_cast<uint32_t>(::getpid()));
    EXPECT_EQ(slot->socket_count, 2u);
}

TEST_F(SteerTest, EmptyPinDirectoryIsTreatedAsAbsent) {
    ASSERT_EQ(::mkdir((root_->path() + "/" + kListener).c_str(), 0700), 0);
    ASSERT_NO_FATAL_FAILURE(addSlot(0, 1, true));
    auto counts = connectMany(10);
    EXPECT_EQ(counts[0], 10);
}

TEST_F(SteerTest, RejectsBadArguments) {
    UniqueFd fd = listenReuseport(kPort);
    int fds[] = {fd.get()};
    EXPECT_FALSE(SteerLoader::attachListener("", fds, 0, true, root_->path()));
    EXPECT_FALSE(SteerLoader::attachListener("a/b", fds, 0, true, root_->path()));
    EXPECT_FALSE(SteerLoader::attachListener(kListener, fds, STEER_SLOTS, true, root_->path()));
    EXPECT_FALSE(SteerLoader::attachListener(kListener, {}, 0, true, root_->path()));
    int not_listening[] = {::socket(AF_INET, SOCK_STREAM, 0)};
    auto r = SteerLoader::attachListener(kListener, not_listening, 0, true, root_->path());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().what().find("fd " + std::to_string(not_listening[0])), std::string::npos)
        << r.error().what();
    EXPECT_EQ(r.error().errnum, EINVAL) << r.error().what();
    ::close(not_listening[0]);
}

}  // namespace
}  // namespace hotgate::test

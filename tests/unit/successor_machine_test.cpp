// A new version's upgrade state machine (control/successor_machine.h) against fakes: every
// transition, every message out of order, and the predecessor dying in every phase, in BPF and
// in takeover mode. No sockets, no processes.
#include <gtest/gtest.h>

#include "control/successor_machine.h"
#include "upgrade_fakes.h"

namespace hotgate::control {
namespace {

using namespace std::chrono_literals;
using test::FakeClock;
using test::FakeHost;
using test::FakeLink;
using Effects = std::vector<std::string>;

constexpr std::uint32_t kOwnSlot = 1;

class SuccessorMachineTest : public ::testing::TestWithParam<DataplaneMode> {
protected:
    bool bpf() const { return GetParam() == DataplaneMode::Bpf; }
    SuccessorPhase phase() const { return machine.snapshot().phase; }

    // Drives the machine into `target` the way a real upgrade gets there; forgets the effects.
    void reach(SuccessorPhase target) {
        if (target == SuccessorPhase::Active || target == SuccessorPhase::InCharge) machine.onMessage(Activate{});
        if (target == SuccessorPhase::InCharge) machine.onMessage(Committed{5000});
        if (target == SuccessorPhase::HandingBack) machine.onMessage(Stop{"requested by gwctl rollback"});
        ASSERT_EQ(phase(), target);
        host.effects.clear();
        host.handed_to.reset();
    }

    FakeClock clock;
    FakeHost host{GetParam(), kOwnSlot};
    std::shared_ptr<FakeLink> predecessor = std::make_shared<FakeLink>();
    SuccessorMachine machine{host, clock, predecessor, {1111, "v1/old"}};
};

INSTANTIATE_TEST_SUITE_P(Modes, SuccessorMachineTest, ::testing::Values(DataplaneMode::Bpf, DataplaneMode::Takeover),
                         [](const auto& info) { return std::string(dataplaneModeName(info.param)); });

TEST_P(SuccessorMachineTest, StartsReadyAndSaysSo) {
    EXPECT_EQ(phase(), SuccessorPhase::Ready);
    EXPECT_EQ(host.phase, VersionPhase::Ready);
    const auto now = machine.snapshot();
    EXPECT_EQ(now.predecessor.pid, 1111);
    EXPECT_EQ(now.predecessor.version, "v1/old");
    EXPECT_FALSE(now.committed);
    EXPECT_FALSE(now.predecessor_gone);
}

TEST_P(SuccessorMachineTest, ActivateStartsReceivingNewConnections) {
    reach(SuccessorPhase::Ready);
    machine.onMessage(Activate{});
    EXPECT_EQ(phase(), SuccessorPhase::Active);
    // BPF: the predecessor's control entry write did it; takeover: accept on the inherited sockets.
    EXPECT_EQ(host.effects, bpf() ? (Effects{"phase active"}) : (Effects{"resume", "phase active"}));
}

TEST_P(SuccessorMachineTest, CommittedPutsThisVersionInCharge) {
    reach(SuccessorPhase::Active);
    machine.onMessage(Committed{5000});
    const auto now = machine.snapshot();
    EXPECT_EQ(now.phase, SuccessorPhase::InCharge);
    EXPECT_TRUE(now.committed);
    ASSERT_TRUE(now.predecessor_drain_deadline);
    EXPECT_EQ(*now.predecessor_drain_deadline, clock.now() + 5s);
    EXPECT_EQ(host.effects, (Effects{"phase active", "control socket"})) << "steering is already here";
}

TEST_P(SuccessorMachineTest, StopHandsConnectionsBackAndOnlyOnce) {
    for (auto from : {SuccessorPhase::Ready, SuccessorPhase::Active}) {
        SCOPED_TRACE(std::string(successorPhaseName(from)));
        FakeHost other_host(GetParam(), kOwnSlot);
        SuccessorMachine fresh(other_host, clock, predecessor, {1111, "v1/old"});
        if (from == SuccessorPhase::Active) fresh.onMessage(Activate{});
        other_host.effects.clear();
        fresh.onMessage(Stop{"requested by gwctl rollback"});
        EXPECT_EQ(fresh.snapshot().phase, SuccessorPhase::HandingBack);
        EXPECT_EQ(other_host.effects, Effects{"hand off"});
        EXPECT_EQ(other_host.handed_to, predecessor);
        fresh.onMessage(Stop{"again"});
        EXPECT_EQ(other_host.effects, Effects{"hand off"}) << "one hand-off per process";
    }
}

TEST_P(SuccessorMachineTest, APredecessorDyingBeforeCommitLeavesThisVersionInCharge) {
    for (auto from : {SuccessorPhase::Ready, SuccessorPhase::Active}) {
        SCOPED_TRACE(std::string(successorPhaseName(from)));
        FakeHost other_host(GetParam(), kOwnSlot);
        SuccessorMachine fresh(other_host, clock, predecessor, {1111, "v1/old"});
        if (from == SuccessorPhase::Active) fresh.onMessage(Activate{});
        other_host.effects.clear();
        fresh.onPredecessorLost();
        const auto now = fresh.snapshot();
        EXPECT_EQ(now.phase, SuccessorPhase::InCharge);
        EXPECT_FALSE(now.committed);
        EXPECT_TRUE(now.predecessor_gone);
        // This version is all that is left: new connections must come here.
        EXPECT_EQ(other_host.effects, bpf() ? (Effects{"steer 1", "phase active", "control socket"})
                                            : (Effects{"resume", "phase active", "control socket"}));
    }
}

TEST_P(SuccessorMachineTest, APredecessorExitingAfterCommitIsOnlyNoted) {
    reach(SuccessorPhase::InCharge);
    machine.onPredecessorLost();
    EXPECT_EQ(phase(), SuccessorPhase::InCharge);
    EXPECT_TRUE(machine.snapshot().predecessor_gone);
    EXPECT_EQ(host.effects, Effects{});
}

TEST_P(SuccessorMachineTest, APredecessorExitingWhileThisVersionHandsBackChangesNothing) {
    reach(SuccessorPhase::HandingBack);
    machine.onPredecessorLost();
    EXPECT_EQ(phase(), SuccessorPhase::HandingBack);
    EXPECT_TRUE(machine.snapshot().predecessor_gone);
    EXPECT_EQ(host.effects, Effects{});
}

TEST_P(SuccessorMachineTest, APredecessorExitingWhileThisVersionDrainsChangesNothing) {
    reach(SuccessorPhase::Active);
    host.draining_now = true;  // SIGTERM
    machine.onPredecessorLost();
    EXPECT_EQ(phase(), SuccessorPhase::Active);
    EXPECT_EQ(host.effects, Effects{});
}

TEST_P(SuccessorMachineTest, AControlSocketThatCannotBeTakenOverLeavesThisVersionInCharge) {
    reach(SuccessorPhase::Active);
    host.control_socket_fails = true;
    machine.onMessage(Committed{5000});
    EXPECT_EQ(phase(), SuccessorPhase::InCharge) << "it serves traffic all the same; the error is logged";
}

TEST_P(SuccessorMachineTest, MessagesOutOfOrderAreIgnored) {
    struct Case {
        SuccessorPhase in;
        PeerMessage message;
    };
    const Case cases[] = {
        {SuccessorPhase::Ready, Committed{5000}},      // commit comes only after cutover
        {SuccessorPhase::Active, Activate{}},          // cut over twice
        {SuccessorPhase::InCharge, Activate{}},        //
        {SuccessorPhase::InCharge, Committed{5000}},   // committed twice
        {SuccessorPhase::InCharge, Stop{"late"}},      // no rollback after commit
        {SuccessorPhase::HandingBack, Activate{}},     // no cutover after rollback
        {SuccessorPhase::HandingBack, Committed{1}},   //
        {SuccessorPhase::Ready, Ready{0, "", 1}},      // the successor's own messages, echoed
        {SuccessorPhase::Active, Heartbeat{1, 1, true}},
        {SuccessorPhase::Active, Failed{"x"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(successorPhaseName(c.in)) + " + " +
                     messageTypeName(static_cast<std::uint16_t>(messageType(c.message))));
        FakeHost other_host(GetParam(), kOwnSlot);
        SuccessorMachine fresh(other_host, clock, predecessor, {1111, "v1/old"});
        if (c.in == SuccessorPhase::Active || c.in == SuccessorPhase::InCharge) fresh.onMessage(Activate{});
        if (c.in == SuccessorPhase::InCharge) fresh.onMessage(Committed{5000});
        if (c.in == SuccessorPhase::HandingBack) fresh.onMessage(Stop{"rollback"});
        const auto before = fresh.snapshot();
        ASSERT_EQ(before.phase, c.in);
        other_host.effects.clear();
        fresh.onMessage(c.message);
        const auto after = fresh.snapshot();
        EXPECT_EQ(after.phase, c.in);
        EXPECT_EQ(after.committed, before.committed);
        EXPECT_EQ(after.predecessor_drain_deadline, before.predecessor_drain_deadline);
        EXPECT_EQ(other_host.effects, Effects{});
    }
}

}  // namespace
}  // namespace hotgate::control

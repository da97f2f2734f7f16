// The running version's upgrade state machine (control/upgrade_machine.h) against fakes: every
// transition, every timeout, every message out of order, and the successor dying in every
// phase, in BPF and in takeover mode. No sockets, no processes.
#include <gtest/gtest.h>

#include "control/upgrade_machine.h"
#include "upgrade_fakes.h"

namespace hotgate::control {
namespace {

using namespace std::chrono_literals;
using test::FakeClock;
using test::FakeHost;
using test::FakeLink;
using Effects = std::vector<std::string>;

constexpr int kSuccessorPid = 4242;
constexpr std::uint32_t kSuccessorSlot = 1;

const UpgradePhase kEveryPhase[] = {UpgradePhase::None,    UpgradePhase::Starting,   UpgradePhase::Ready,
                                    UpgradePhase::CutOver, UpgradePhase::Committing, UpgradePhase::RolledBack};

// Drives `machine` into `target` the way a real upgrade gets there (RolledBack: after cutover).
void drive(UpgradeMachine& machine, const std::shared_ptr<FakeLink>& link, UpgradePhase target) {
    if (target == UpgradePhase::None) return;
    ASSERT_EQ(machine.admit(Hello{"v2/new", kSuccessorPid, "abc"}, link), std::nullopt);
    if (target == UpgradePhase::Starting) return;
    ASSERT_EQ(machine.onMessage(Ready{kSuccessorSlot, "127.0.0.1:9901", kSuccessorPid}), LinkFate::Follow);
    if (target == UpgradePhase::Ready) return;
    ASSERT_TRUE(machine.cutover().ok);
    if (target == UpgradePhase::Committing) {
        ASSERT_TRUE(machine.commit().ok);
    } else if (target == UpgradePhase::RolledBack) {
        ASSERT_TRUE(machine.rollback("requested by test").ok);
    }
    ASSERT_EQ(machine.snapshot().phase, target);
}

class UpgradeMachineTest : public ::testing::TestWithParam<DataplaneMode> {
protected:
    bool bpf() const { return GetParam() == DataplaneMode::Bpf; }
    UpgradePhase phase() const { return machine.snapshot().phase; }

    // Drives the fixture's machine into `target`, then forgets the effects so far.
    void reach(UpgradePhase target) {
        ASSERT_NO_FATAL_FAILURE(drive(machine, link, target));
        host.effects.clear();
        link->sent.clear();
    }

    FakeClock clock;
    FakeHost host{GetParam(), 0};
    UpgradeMachine machine{host, clock};
    std::shared_ptr<FakeLink> link = std::make_shared<FakeLink>();
};

INSTANTIATE_TEST_SUITE_P(Modes, UpgradeMachineTest, ::testing::Values(DataplaneMode::Bpf, DataplaneMode::Takeover),
                         [](const auto& info) { return std::string(dataplaneModeName(info.param)); });

// --- admission ------------------------------------------------------------------------------

TEST_P(UpgradeMachineTest, HelloAdmitsTheSuccessorAndStartsIt) {
    EXPECT_EQ(machine.admit(Hello{"v2/new", kSuccessorPid, "abc"}, link), std::nullopt);
    const auto now = machine.snapshot();
    EXPECT_EQ(now.phase, UpgradePhase::Starting);
    EXPECT_EQ(wireState(now.phase), UpgradeState::Starting);
    ASSERT_TRUE(now.successor);
    EXPECT_EQ(now.successor->pid, kSuccessorPid);
    EXPECT_EQ(now.successor->version, "v2/new");
    EXPECT_EQ(host.effects, Effects{}) << "admitting changes nothing for traffic";
}

TEST_P(UpgradeMachineTest, HelloIsRefusedWhileAnyUpgradeIsKnown) {
    const std::pair<UpgradePhase, const char*> cases[] = {{UpgradePhase::Starting, "starting"},
                                                          {UpgradePhase::Ready, "ready"},
                                                          {UpgradePhase::CutOver, "cut over"},
                                                          {UpgradePhase::Committing, "committing"},
                                                          {UpgradePhase::RolledBack, "none"}};
    for (const auto& [target, state] : cases) {
        SCOPED_TRACE(std::string(upgradePhaseName(target)));
        UpgradeMachine fresh(host, clock);
        ASSERT_NO_FATAL_FAILURE(drive(fresh, link, target));
        auto other = std::make_shared<FakeLink>();
        const auto refused = fresh.admit(Hello{"v3/other", 5151, "def"}, other);
        ASSERT_TRUE(refused);
        EXPECT_EQ(*refused, "an upgrade is already in progress: successor pid 4242 is " + std::string(state));
        EXPECT_EQ(fresh.snapshot().successor->pid, kSuccessorPid) << "the first successor stays the one";
        EXPECT_EQ(fresh.snapshot().phase, target);
    }
}

TEST_P(UpgradeMachineTest, HelloIsRefusedWhileThisVersionDrains) {
    host.draining_now = true;
    const auto refused = machine.admit(Hello{"v2/new", kSuccessorPid, "abc"}, link);
    ASSERT_TRUE(refused);
    EXPECT_EQ(*refused, "this version is draining; it hands over nothing");
    EXPECT_EQ(phase(), UpgradePhase::None);
    EXPECT_FALSE(machine.snapshot().successor);
}

// --- ready ----------------------------------------------------------------------------------

TEST_P(UpgradeMachineTest, ReadyMakesAStartingSuccessorReady) {
    reach(UpgradePhase::Starting);
    EXPECT_EQ(machine.onMessage(Ready{kSuccessorSlot, "127.0.0.1:9901", kSuccessorPid}), LinkFate::Follow);
    const auto now = machine.snapshot();
    EXPECT_EQ(now.phase, UpgradePhase::Ready);
    EXPECT_EQ(now.successor->slot, kSuccessorSlot);
    EXPECT_EQ(now.successor->admin, "127.0.0.1:9901");
    EXPECT_EQ(host.effects, Effects{});
}

TEST_P(UpgradeMachineTest, ReadyOutOfOrderChangesNothing) {
    for (auto target : {UpgradePhase::Ready, UpgradePhase::CutOver, UpgradePhase::Committing}) {
        SCOPED_TRACE(std::string(upgradePhaseName(target)));
        UpgradeMachine fresh(host, clock);
        ASSERT_NO_FATAL_FAILURE(drive(fresh, link, target));
        host.effects.clear();
        EXPECT_EQ(fresh.onMessage(Ready{7, "b", kSuccessorPid}), LinkFate::Follow);
        EXPECT_EQ(fresh.snapshot().phase, target);
        EXPECT_EQ(fresh.snapshot().successor->slot, kSuccessorSlot) << "a second Ready must not move the slot";
        EXPECT_EQ(host.effects, Effects{});
    }
}

TEST_P(UpgradeMachineTest, ALateReadyOfARolledBackSuccessorIsOnlyRecorded) {
    reach(UpgradePhase::Starting);
    ASSERT_TRUE(machine.rollback("changed my mind").ok);
    host.effects.clear();
    machine.onMessage(Ready{kSuccessorSlot, "127.0.0.1:9901", kSuccessorPid});
    EXPECT_EQ(phase(), UpgradePhase::RolledBack);
    EXPECT_EQ(machine.snapshot().successor->slot, kSuccessorSlot);
    EXPECT_EQ(host.effects, Effects{});
}

TEST_P(UpgradeMachineTest, MessagesMeantForTheSuccessorAreIgnoredFromIt) {
    reach(UpgradePhase::Ready);
    for (const PeerMessage& wrong : {PeerMessage(Activate{}), PeerMessage(Committed{100}), PeerMessage(Stop{"x"})})
        EXPECT_EQ(machine.onMessage(wrong), LinkFate::Follow);
    EXPECT_EQ(phase(), UpgradePhase::Ready);
    EXPECT_EQ(host.effects, Effects{});
    EXPECT_TRUE(link->sent.empty());
}

TEST_P(UpgradeMachineTest, FailedRecordsTheReasonAndWaitsForTheLinkToClose) {
    reach(UpgradePhase::Starting);
    EXPECT_EQ(machine.onMessage(Failed{"bind 127.0.0.1:80: Address in use"}), LinkFate::Follow);
    EXPECT_EQ(phase(), UpgradePhase::Starting);
    EXPECT_EQ(machine.snapshot().last_error, "bind 127.0.0.1:80: Address in use");
    EXPECT_EQ(machine.onLinkLost(), LinkFate::Forget);
    EXPECT_EQ(phase(), UpgradePhase::None);
    EXPECT_EQ(machine.snapshot().last_error, "bind 127.0.0.1:80: Address in use") << "the reason outlives the link";
    EXPECT_EQ(host.effects, Effects{});
}

// --- cutover --------------------------------------------------------------------------------

TEST_P(UpgradeMachineTest, CutoverSendsNewConnectionsToTheSuccessor) {
    reach(UpgradePhase::Ready);
    const auto reply = machine.cutover();
    ASSERT_TRUE(reply.ok) << reply.message;
    EXPECT_EQ(phase(), UpgradePhase::CutOver);
    EXPECT_EQ(wireState(phase()), UpgradeState::CutOver);
    EXPECT_TRUE(reply.details.contains("write_us"));
    ASSERT_EQ(link->sentOf<Activate>().size(), 1u);
    if (bpf()) {
        EXPECT_EQ(host.effects, (Effects{"steer 1", "phase standby"}));
        EXPECT_EQ(reply.message, "cut over to v2/new (pid 4242, slot 1)");
    } else {
        EXPECT_EQ(host.effects, (Effects{"pause", "phase standby"}));
        EXPECT_EQ(reply.message, "cut over to v2/new (pid 4242)");
    }
}

TEST_P(UpgradeMachineTest, CutoverThatCannotWriteTheControlEntryChangesNothing) {
    reach(UpgradePhase::Ready);
    host.steer_fails = true;
    const auto reply = machine.cutover();
    if (!bpf()) {
        EXPECT_TRUE(reply.ok) << "takeover mode writes no control entry: " << reply.message;
        EXPECT_EQ(phase(), UpgradePhase::CutOver);
        return;
    }
    EXPECT_FALSE(reply.ok);
    EXPECT_EQ(reply.message.rfind("cutover failed, nothing changed: ", 0), 0u) << reply.message;
    EXPECT_EQ(phase(), UpgradePhase::Ready);
    EXPECT_TRUE(link->sent.empty()) << "no Activate";
    EXPECT_EQ(host.effects, Effects{});
}

TEST_P(UpgradeMachineTest, CutoverToAnUnreachableSuccessorIsReverted) {
    reach(UpgradePhase::Ready);
    link->broken = true;
    const auto reply = machine.cutover();
    EXPECT_FALSE(reply.ok);
    EXPECT_EQ(reply.message.rfind("cutover failed, reverted: successor unreachable: ", 0), 0u) << reply.message;
    EXPECT_EQ(phase(), UpgradePhase::Ready);
    EXPECT_EQ(host.effects, bpf() ? (Effects{"steer 1", "steer 0"}) : Effects{});
}

TEST_P(UpgradeMachineTest, CutoverIsRefusedUnlessASuccessorIsReady) {
    for (auto target : kEveryPhase) {
        if (target == UpgradePhase::Ready) continue;
        SCOPED_TRACE(std::string(upgradePhaseName(target)));
        FakeHost other_host(GetParam());
        UpgradeMachine fresh(other_host, clock);
        ASSERT_NO_FATAL_FAILURE(drive(fresh, link, target));
        other_host.effects.clear();
        const auto reply = fresh.cutover();
        EXPECT_FALSE(reply.ok);
        EXPECT_EQ(reply.message, "no successor is ready to cut over to (upgrade state: " +
                                     std::string(upgradeStateName(wireState(target))) + ")");
        EXPECT_EQ(fresh.snapshot().phase, target);
        EXPECT_EQ(other_host.effects, Effects{});
    }
}

// --- commit ---------------------------------------------------------------------------------

TEST_P(UpgradeMachineTest, CommitTellsTheSuccessorAndHandsConnectionsOver) {
    reach(UpgradePhase::CutOver);
    const auto reply = machine.commit();
    ASSERT_TRUE(reply.ok) << reply.message;
    EXPECT_EQ(reply.message, "committed: v1/old hands its connections to v2/new and exits when drained");
    EXPECT_EQ(phase(), UpgradePhase::Committing);
    const auto committed = link->sentOf<Committed>();
    ASSERT_EQ(committed.size(), 1u);
    EXPECT_EQ(committed[0].drain_ms, 5000);
    // The service manager follows the successor before this version starts on its way out.
    EXPECT_EQ(host.effects, (Effects{"service to " + std::to_string(kSuccessorPid), "hand off"}));
    EXPECT_EQ(host.handed_to, link);
}

TEST_P(UpgradeMachineTest, CommitToAnUnreachableSuccessorChangesNothing) {
    reach(UpgradePhase::CutOver);
    link->broken = true;
    const auto reply = machine.commit();
    EXPECT_FALSE(reply.ok);
    EXPECT_EQ(reply.message.rfind("commit failed, nothing changed: successor unreachable: ", 0), 0u);
    EXPECT_EQ(phase(), UpgradePhase::CutOver);
    EXPECT_EQ(host.effects, Effects{});
}

TEST_P(UpgradeMachineTest, CommitIsRefusedBeforeCutoverAndNamesTheLastProblem) {
    EXPECT_EQ(machine.commit().message, "nothing to commit: cut over first (upgrade state: none)");
    reach(UpgradePhase::Ready);
    EXPECT_EQ(machine.commit().message, "nothing to commit: cut over first (upgrade state: ready)");
    ASSERT_TRUE(machine.cutover().ok);
    ASSERT_TRUE(machine.rollback("requested by gwctl rollback").ok);
    EXPECT_EQ(machine.commit().message,
              "nothing to commit: cut over first (upgrade state: none); last problem: requested by gwctl rollback");
    EXPECT_EQ(phase(), UpgradePhase::RolledBack);
}

TEST_P(UpgradeMachineTest, ASecondCommitIsRefused) {
    reach(UpgradePhase::Committing);
    EXPECT_FALSE(machine.commit().ok);
    EXPECT_EQ(host.effects, Effects{});
    EXPECT_TRUE(link->sent.empty());
}

// --- rollback -------------------------------------------------------------------------------

TEST_P(UpgradeMachineTest, RollbackAfterCutoverSendsNewConnectionsBack) {
    reach(UpgradePhase::CutOver);
    const auto reply = machine.rollback("requested by gwctl rollback");
    ASSERT_TRUE(reply.ok);
    EXPECT_EQ(reply.message, "rolled back: new connections go to v1/old again; pid 4242 drains and exits");
    EXPECT_EQ(host.effects, bpf() ? (Effects{"steer 0", "phase active"}) : (Effects{"resume", "phase active"}));
    const auto stops = link->sentOf<Stop>();
    ASSERT_EQ(stops.size(), 1u);
    EXPECT_EQ(stops[0].reason, "requested by gwctl rollback");
    const auto now = machine.snapshot();
    EXPECT_EQ(now.phase, UpgradePhase::RolledBack);
    EXPECT_EQ(wireState(now.phase), UpgradeState::None) << "status shows no upgrade under way";
    EXPECT_TRUE(now.successor) << "the successor stays known while it hands its connections back";
    EXPECT_EQ(now.last_error, "requested by gwctl rollback");
}

TEST_P(UpgradeMachineTest, RollbackBeforeCutoverOnlyStopsTheSuccessor) {
    for (auto target : {UpgradePhase::Starting, UpgradePhase::Ready}) {
        SCOPED_TRACE(std::string(upgradePhaseName(target)));
        UpgradeMachine fresh(host, clock);
        ASSERT_NO_FATAL_FAILURE(drive(fresh, link, target));
        host.effects.clear();
        link->sent.clear();
        ASSERT_TRUE(fresh.rollback("not today").ok);
        EXPECT_EQ(host.effects, Effects{"phase active"}) << "traffic never left this version";
        EXPECT_EQ(link->sentOf<Stop>().size(), 1u);
        EXPECT_EQ(fresh.snapshot().phase, UpgradePhase::RolledBack);
    }
}

TEST_P(UpgradeMachineTest, RollbackWithoutAnUpgradeInProgressIsRefused) {
    for (auto target : {UpgradePhase::None, UpgradePhase::Committing, UpgradePhase::RolledBack}) {
        SCOPED_TRACE(std::string(upgradePhaseName(target)));
        UpgradeMachine fresh(host, clock);
        ASSERT_NO_FATAL_FAILURE(drive(fresh, link, target));
        host.effects.clear();
        link->sent.clear();
        const auto reply = fresh.rollback("again");
        EXPECT_FALSE(reply.ok);
        EXPECT_EQ(reply.message, "no upgrade to roll back (upgrade state: " +
                                     std::string(upgradeStateName(wireState(target))) + ")");
        EXPECT_EQ(fresh.snapshot().phase, target);
        EXPECT_EQ(host.effects, Effects{});
        EXPECT_TRUE(link->sent.empty());
    }
}

// --- timeouts -------------------------------------------------------------------------------

TEST_P(UpgradeMachineTest, ASuccessorNotReadyInTimeIsGivenUp) {
    reach(UpgradePhase::Starting);
    clock.advance(60s);
    EXPECT_EQ(machine.tick(), LinkFate::Follow) << "exactly at the timeout it still may come";
    EXPECT_EQ(phase(), UpgradePhase::Starting);
    clock.advance(1ms);
    EXPECT_EQ(machine.tick(), LinkFate::Forget);
    const auto now = machine.snapshot();
    EXPECT_EQ(now.phase, UpgradePhase::None);
    EXPECT_FALSE(now.successor);
    EXPECT_EQ(now.last_error, "successor pid 4242 did not become ready in 60s");
    EXPECT_EQ(host.effects, Effects{}) << "nothing changed for traffic";
    EXPECT_TRUE(link->sent.empty());
}

TEST_P(UpgradeMachineTest, ReadyInTimeCancelsTheReadyTimeout) {
    reach(UpgradePhase::Starting);
    clock.advance(59s);
    machine.onMessage(Ready{kSuccessorSlot, "", kSuccessorPid});
    clock.advance(10min);
    EXPECT_EQ(machine.tick(), LinkFate::Follow);
    EXPECT_EQ(phase(), UpgradePhase::Ready) << "a ready successor may wait for cutover as long as it likes";
}

TEST_P(UpgradeMachineTest, ASilentSuccessorAfterCutoverIsRolledBack) {
    reach(UpgradePhase::CutOver);
    clock.advance(2s);
    machine.onMessage(Heartbeat{3, 1, true});
    clock.advance(3s);
    EXPECT_EQ(machine.tick(), LinkFate::Follow) << "3 s since the last heartbeat: not yet";
    EXPECT_EQ(phase(), UpgradePhase::CutOver);
    clock.advance(1ms);
    EXPECT_EQ(machine.tick(), LinkFate::Follow) << "the link is followed while the successor hands back";
    EXPECT_EQ(phase(), UpgradePhase::RolledBack);
    EXPECT_EQ(host.effects, bpf() ? (Effects{"steer 0", "phase active"}) : (Effects{"resume", "phase active"}));
    const auto stops = link->sentOf<Stop>();
    ASSERT_EQ(stops.size(), 1u);
    EXPECT_EQ(stops[0].reason, "auto-rollback: successor pid 4242 sent no heartbeat for 3s");
    EXPECT_EQ(machine.snapshot().last_error, stops[0].reason);
}

TEST_P(UpgradeMachineTest, TheHeartbeatSilenceCountsFromTheCutover) {
    reach(UpgradePhase::Ready);
    clock.advance(30s);  // a ready successor may have been quiet for long: it is not cut over yet
    EXPECT_EQ(machine.tick(), LinkFate::Follow);
    ASSERT_TRUE(machine.cutover().ok);
    clock.advance(2s);
    machine.tick();
    EXPECT_EQ(phase(), UpgradePhase::CutOver);
}

TEST_P(UpgradeMachineTest, NoTimeoutFiresOutsideStartingAndCutOver) {
    for (auto target : {UpgradePhase::None, UpgradePhase::Ready, UpgradePhase::Committing, UpgradePhase::RolledBack}) {
        SCOPED_TRACE(std::string(upgradePhaseName(target)));
        FakeHost other_host(GetParam());
        UpgradeMachine fresh(other_host, clock);
        ASSERT_NO_FATAL_FAILURE(drive(fresh, link, target));
        other_host.effects.clear();
        clock.advance(1h);
        EXPECT_EQ(fresh.tick(), LinkFate::Follow);
        EXPECT_EQ(fresh.snapshot().phase, target);
        EXPECT_EQ(other_host.effects, Effects{});
    }
}

// --- heartbeats -----------------------------------------------------------------------------

TEST_P(UpgradeMachineTest, HeartbeatsAreRecordedForStatus) {
    reach(UpgradePhase::Ready);
    machine.onMessage(Heartbeat{12, 3, true});
    const auto beat = machine.snapshot().successor->last_heartbeat;
    EXPECT_EQ(beat.connections, 12u);
    EXPECT_EQ(beat.in_flight, 3u);
}

TEST_P(UpgradeMachineTest, AnUnhealthySuccessorAfterCutoverIsRolledBack) {
    reach(UpgradePhase::CutOver);
    machine.onMessage(Heartbeat{1, 0, false});
    EXPECT_EQ(phase(), UpgradePhase::RolledBack);
    EXPECT_EQ(machine.snapshot().last_error, "auto-rollback: successor pid 4242 reports unhealthy");
    EXPECT_EQ(link->sentOf<Stop>().size(), 1u);
    EXPECT_EQ(host.effects, bpf() ? (Effects{"steer 0", "phase active"}) : (Effects{"resume", "phase active"}));
}

TEST_P(UpgradeMachineTest, AnUnhealthyHeartbeatOutsideCutOverChangesNothing) {
    for (auto target : {UpgradePhase::Starting, UpgradePhase::Ready, UpgradePhase::Committing,
                        UpgradePhase::RolledBack}) {
        SCOPED_TRACE(std::string(upgradePhaseName(target)));
        FakeHost other_host(GetParam());
        UpgradeMachine fresh(other_host, clock);
        ASSERT_NO_FATAL_FAILURE(drive(fresh, link, target));
        other_host.effects.clear();
        link->sent.clear();
        fresh.onMessage(Heartbeat{0, 0, false});
        EXPECT_EQ(fresh.snapshot().phase, target);
        EXPECT_EQ(other_host.effects, Effects{});
        EXPECT_TRUE(link->sent.empty());
    }
}

// --- the successor dies ---------------------------------------------------------------------

TEST_P(UpgradeMachineTest, ASuccessorDyingBeforeCutoverChangesNothingForTraffic) {
    for (auto target : {UpgradePhase::Starting, UpgradePhase::Ready}) {
        SCOPED_TRACE(std::string(upgradePhaseName(target)));
        UpgradeMachine fresh(host, clock);
        ASSERT_NO_FATAL_FAILURE(drive(fresh, link, target));
        host.effects.clear();
        EXPECT_EQ(fresh.onLinkLost(), LinkFate::Forget);
        EXPECT_EQ(fresh.snapshot().phase, UpgradePhase::None);
        EXPECT_FALSE(fresh.snapshot().successor);
        EXPECT_EQ(host.effects, Effects{});
        EXPECT_EQ(fresh.admit(Hello{"v3/next", 5151, "def"}, link), std::nullopt) << "the next upgrade may start";
    }
}

TEST_P(UpgradeMachineTest, ASuccessorDyingAfterCutoverIsRolledBackWithoutBeingTold) {
    reach(UpgradePhase::CutOver);
    EXPECT_EQ(machine.onLinkLost(), LinkFate::Forget);
    const auto now = machine.snapshot();
    EXPECT_EQ(now.phase, UpgradePhase::None);
    EXPECT_FALSE(now.successor);
    EXPECT_EQ(now.last_error, "auto-rollback: successor pid 4242 exited or closed its control connection after cutover");
    EXPECT_EQ(host.effects, bpf() ? (Effects{"steer 0", "phase active"}) : (Effects{"resume", "phase active"}));
    EXPECT_TRUE(link->sent.empty()) << "nobody is left to send Stop to";
}

TEST_P(UpgradeMachineTest, ASuccessorDyingWhileThisVersionCommitsChangesNothing) {
    reach(UpgradePhase::Committing);
    EXPECT_EQ(machine.onLinkLost(), LinkFate::Forget);
    EXPECT_EQ(phase(), UpgradePhase::Committing) << "this version drains and exits all the same";
    EXPECT_TRUE(machine.snapshot().successor);
    EXPECT_EQ(host.effects, Effects{});
}

TEST_P(UpgradeMachineTest, ARolledBackSuccessorIsForgottenWhenItsLinkCloses) {
    reach(UpgradePhase::RolledBack);
    EXPECT_EQ(machine.onLinkLost(), LinkFate::Forget);
    EXPECT_EQ(phase(), UpgradePhase::None);
    EXPECT_FALSE(machine.snapshot().successor);
    EXPECT_EQ(machine.snapshot().last_error, "requested by test");
    EXPECT_EQ(host.effects, Effects{});
    EXPECT_EQ(machine.admit(Hello{"v3/next", 5151, "def"}, link), std::nullopt);
}

TEST_P(UpgradeMachineTest, ASuccessorDyingAfterAnAutoRollbackIsForgotten) {
    reach(UpgradePhase::CutOver);
    machine.onMessage(Heartbeat{0, 0, false});
    ASSERT_EQ(phase(), UpgradePhase::RolledBack);
    host.effects.clear();
    EXPECT_EQ(machine.onLinkLost(), LinkFate::Forget);
    EXPECT_EQ(phase(), UpgradePhase::None);
    EXPECT_EQ(host.effects, Effects{}) << "traffic was already back here";
}

TEST_P(UpgradeMachineTest, MessagesAfterTheSuccessorIsForgottenAreIgnored) {
    reach(UpgradePhase::Starting);
    machine.onLinkLost();
    EXPECT_EQ(machine.onMessage(Ready{kSuccessorSlot, "", kSuccessorPid}), LinkFate::Follow);
    EXPECT_EQ(machine.onMessage(Heartbeat{1, 1, false}), LinkFate::Follow);
    EXPECT_EQ(machine.onMessage(Failed{"late"}), LinkFate::Follow);
    EXPECT_EQ(machine.onLinkLost(), LinkFate::Forget);
    EXPECT_EQ(phase(), UpgradePhase::None);
    EXPECT_EQ(machine.snapshot().last_error, "");
    EXPECT_EQ(host.effects, Effects{});
}

}  // namespace
}  // namespace hotgate::control

// health: the TCP health profile (bpf/health.bpf.c) on the real kernel with real traffic.
// Each test makes its own pair of network namespaces joined by a veth: the "gateway" side
// (this thread's namespace, 10.77.0.1) and the "peer" side (clients and upstreams,
// 10.77.0.2), and a private bpffs root. Faults are real: netem delay/loss where the kernel has
// netem (the 6.1 VM), otherwise an XDP program on the veth that drops chosen segments so the
// kernel's own retransmit timers (1 s for a SYN-ACK) make the latency. Each test says which.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "health/health_loader.h"
#include "health/health_monitor.h"
#include "netfault.h"
#include "netfault.skel.h"
#include "support/netns.h"
#include "support/privilege.h"
#include "netns_bpf_test.h"
#include "tcp_util.h"

namespace hotgate::test {
namespace {

using namespace std::chrono_literals;
using health::HealthMonitor;
using health::HealthOptions;
using health::HealthPins;
using health::LoggedEvent;

constexpr const char* kGatewayIp = "10.77.0.1";
constexpr const char* kPeerIp = "10.77.0.2";
constexpr uint16_t kPort = 18480;       // the measured listener (gateway side)
constexpr uint16_t kOtherPort = 18481;  // an unmarked listener: must never be counted
constexpr uint16_t kUpstreamPort = 18490;
constexpr uint32_t kSlot = 2;  // not 0: a slot mix-up would show
constexpr const char* kVersion = "test-1.0/abcdef123456";

// Bounded polling: `condition` every 20 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

std::string localEndpoint(int fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    char ip[INET_ADDRSTRLEN] = "";
    ::inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof(ip));
    return std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
}

std::string peerEndpointText(uint16_t port) {
    return std::string(kPeerIp) + ":" + std::to_string(port);
}

// Runs a shell command in the namespace `netns_fd` (a thread joins it; the child inherits it).
int shellInNetns(int netns_fd, const std::string& command) {
    int status = -1;
    auto ran = runInNetns(netns_fd, [&] { status = std::system(command.c_str()); });
    if (!ran) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The netfault XDP program attached to `ifname` in namespace `netns_fd`; detached on destruction.
class NetFault {
public:
    static std::unique_ptr<NetFault> attach(int netns_fd, const std::string& ifname, netfault_rule rule) {
        std::unique_ptr<NetFault> fault(new NetFault());
        fault->skel_ = netfault__open_and_load();
        if (!fault->skel_) return nullptr;
        __u32 zero = 0;
        if (bpf_map_update_elem(bpf_map__fd(fault->skel_->maps.netfault_rule_map), &zero, &rule, BPF_ANY) != 0)
            return nullptr;
        fault->netns_fd_ = netns_fd;
        bool ok = false;
        (void)runInNetns(netns_fd, [&] {
            fault->ifindex_ = static_cast<int>(::if_nametoindex(ifname.c_str()));
            ok = fault->ifindex_ > 0 &&
                 bpf_xdp_attach(fault->ifindex_, bpf_program__fd(fault->skel_->progs.netfault_drop), XDP_FLAGS_SKB_MODE,
                                nullptr) == 0;
        });
        if (!ok) return nullptr;
        return fault;
    }
    ~NetFault() {
        if (ifindex_ > 0) (void)runInNetns(netns_fd_, [&] { bpf_xdp_detach(ifindex_, XDP_FLAGS_SKB_MODE, nullptr); });
        netfault__destroy(skel_);
    }
    uint32_t dropped() const {
        __u32 zero = 0;
        netfault_rule rule{};
        bpf_map_lookup_elem(bpf_map__fd(skel_->maps.netfault_rule_map), &zero, &rule);
        return rule.dropped;
    }

private:
    NetFault() = default;
    netfault* skel_ = nullptr;
    int netns_fd_ = -1;
    int ifindex_ = 0;
};

class HealthTest : public NetnsBpfTest {
protected:
    void SetUp() override {
        NetnsBpfTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        auto peer = createNetns();
        ASSERT_TRUE(peer) << peer.error().what();
        peer_ = std::move(*peer);
        auto veth = createVethPair("hgw0", std::string(kGatewayIp) + "/24", "hpeer0", std::string(kPeerIp) + "/24",
                                   peer_.get());
        ASSERT_TRUE(veth) << veth.error().what();
    }

    void TearDown() override {
        monitor_.reset();
        if (pins_) (void)pins_->leave(static_cast<uint32_t>(::getpid()));
        pins_.reset();
        peer_.reset();
        NetnsBpfTest::TearDown();
    }

    // Loads the health programs into this test's root and registers this process as the
    // gateway of kSlot with one marked listener (kPort) and one upstream endpoint.
    void loadAndRegister(HealthOptions options = {}, health::SpikeSettings spikes = {}) {
        auto pins = health::loadHealth(root_->path(), options);
        ASSERT_TRUE(pins) << pins.error().what();
        pins_ = std::move(*pins);
        std::cerr << "[health] mode " << health::modeName(pins_->mode()) << " (" << pins_->reason() << ")\n";
        ASSERT_TRUE(pins_->registerProcess(kSlot, kVersion, static_cast<uint32_t>(::getpid())));
        listener_ = listenReuseport(kPort, 1024, kGatewayIp);
        ASSERT_TRUE(listener_) << "listen on " << kGatewayIp << ":" << kPort << ": " << std::strerror(errno);
        auto marked = pins_->markListener(listener_.get(), kSlot, 0);
        ASSERT_TRUE(marked) << marked.error().what();
        auto added = pins_->addUpstream(kPeerIp, kUpstreamPort, 0);
        ASSERT_TRUE(added) << added.error().what();
        spikes.p99_factor = 0;  // exact thresholds: the p99-relative one is a separate concern
        spikes.tick = 100ms;
        auto monitor = HealthMonitor::start(*pins_, spikes);
        ASSERT_TRUE(monitor) << monitor.error().what();
        monitor_ = std::move(*monitor);
        ASSERT_TRUE(monitor_->isReader());
    }

    // A client in the peer namespace connected to the gateway side's `port`.
    UniqueFd clientConnect(uint16_t port) {
        UniqueFd fd;
        (void)runInNetns(peer_.get(), [&] { fd = connectTo(port, 0, kGatewayIp); });
        return fd;
    }

    // A listener in the peer namespace (an upstream of the gateway side).
    UniqueFd peerListen(uint16_t port) {
        UniqueFd fd;
        (void)runInNetns(peer_.get(), [&] { fd = listenReuseport(port, 1024, kPeerIp); });
        return fd;
    }

    UniqueFd accepted(int listener, int timeout_ms = 8000) {
        auto got = acceptAny({listener}, timeout_ms);
        return got ? std::move(got->second) : UniqueFd();
    }
    // One whole connection from the peer namespace to `port`, accepted on `listener`; both
    // ends are closed when it returns.
    ::testing::AssertionResult oneConnection(uint16_t port, int listener) {
        UniqueFd client = clientConnect(port);
        if (!client) return ::testing::AssertionFailure() << "connect to " << kGatewayIp << ":" << port;
        UniqueFd server = accepted(listener);
        if (!server) return ::testing::AssertionFailure() << "nothing to accept on port " << port;
        return ::testing::AssertionSuccess();
    }

    health_hist hist(uint32_t kind, uint32_t index = 0) {
        auto h = pins_->readHist(kind, kSlot, index);
        EXPECT_TRUE(h) << h.error().what();
        return h ? *h : health_hist{};
    }
    static uint64_t count(const health_hist& h) {
        uint64_t n = 0;
        for (auto b : h.buckets) n += b;
        return n;
    }
    // Index of the highest non-empty bucket (-1 when empty).
    static int topBucket(const health_hist& h) {
        for (int b = HEALTH_BUCKETS - 1; b >= 0; --b)
            if (h.buckets[b]) return b;
        return -1;
    }
    uint64_t counter(uint32_t side, uint32_t which) {
        auto c = pins_->readCounters(kSlot * HEALTH_SIDES + side);
        EXPECT_TRUE(c) << c.error().what();
        return c ? c->count[which] : 0;
    }
    uint64_t global(uint32_t which) {
        auto c = pins_->readCounters(HEALTH_CTR_ROW_GLOBAL);
        return c ? c->count[which] : 0;
    }
    std::vector<LoggedEvent> events(uint32_t kind) {
        monitor_->pollNow();
        uint64_t next = 0;
        std::vector<LoggedEvent> out;
        for (auto& e : pins_->log().read(0, HEALTH_LOG_SIZE, next))
            if (e.event.kind == kind) out.push_back(e);
        return out;
    }
    static std::string src(const health_event& e) { return endpoint(e.saddr, e.sport); }
    static std::string dst(const health_event& e) { return endpoint(e.daddr, e.dport); }
    static std::string endpoint(const __u8* addr, uint16_t port) {
        char ip[INET_ADDRSTRLEN] = "";
        ::inet_ntop(AF_INET, addr, ip, sizeof(ip));
        return std::string(ip) + ":" + std::to_string(port);
    }

    // netem on the peer's veth (its egress: SYNs, ACKs and SYN-ACKs from the peer side),
    // when the kernel has it. Returns false (with nothing changed) otherwise.
    bool netem(const std::string& args) {
        (void)shellInNetns(peer_.get(), "modprobe sch_netem >/dev/null 2>&1");
        return shellInNetns(peer_.get(), "tc qdisc add dev hpeer0 root netem " + args + " >/dev/null 2>&1") == 0;
    }

    UniqueFd peer_;
    std::unique_ptr<HealthPins> pins_;
    std::unique_ptr<HealthMonitor> monitor_;
    UniqueFd listener_;
};

// Without faults: every accepted connection and every upstream connect lands in its
// histogram in a low bucket, connections of other sockets are not counted, and no spike.
TEST_F(HealthTest, CountsHandshakesConnectsAndLifetimesExactlyWithoutSpikes) {
    health::SpikeSettings spikes;
    spikes.threshold_us = 30000;
    ASSERT_NO_FATAL_FAILURE(loadAndRegister({}, spikes));
    UniqueFd other = listenReuseport(kOtherPort, 128, kGatewayIp);  // never marked
    ASSERT_TRUE(other);
    UniqueFd upstream = peerListen(kUpstreamPort);
    ASSERT_TRUE(upstream);

    constexpr int kConnections = 10;
    for (int i = 0; i < kConnections; ++i) {
        ASSERT_TRUE(oneConnection(kPort, listener_.get())) << "connection " << i;
        ASSERT_TRUE(oneConnection(kOtherPort, other.get())) << "connection " << i;
    }
    constexpr int kConnects = 5;
    for (int i = 0; i < kConnects; ++i) {
        UniqueFd out = connectTo(kUpstreamPort, 0, kPeerIp);
        ASSERT_TRUE(out) << "upstream connect " << i << ": " << std::strerror(errno);
        UniqueFd in = accepted(upstream.get());
        ASSERT_TRUE(in);
    }

    ASSERT_TRUE(eventually([&] { return counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_CLOSED) == kConnections; }))
        << "closed " << counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_CLOSED);
    const auto handshake = hist(HEALTH_H_HANDSHAKE);
    EXPECT_EQ(count(handshake), uint64_t(kConnections));
    EXPECT_LE(topBucket(handshake), 15) << "a handshake on an idle veth above 32 ms";
    EXPECT_EQ(counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_OPENED), uint64_t(kConnections));
    EXPECT_EQ(count(hist(HEALTH_H_LIFETIME)), uint64_t(kConnections));
    const auto connect = hist(HEALTH_H_CONNECT);
    EXPECT_EQ(count(connect), uint64_t(kConnects));
    EXPECT_LE(topBucket(connect), 15);
    EXPECT_EQ(counter(HEALTH_SIDE_UPSTREAM, HEALTH_CTR_OPENED), uint64_t(kConnects));
    // Nothing counted under other slots or indexes (the unmarked listener's connections).
    for (uint32_t slot = 0; slot < HEALTH_SLOTS; ++slot)
        for (uint32_t index = 0; index < 2; ++index)
            if (slot != kSlot || index != 0) {
                auto h = pins_->readHist(HEALTH_H_HANDSHAKE, slot, index);
                ASSERT_TRUE(h);
                EXPECT_EQ(count(*h), 0u) << "slot " << slot << " index " << index;
            }
    EXPECT_TRUE(events(HEALTH_EV_HANDSHAKE).empty());
    EXPECT_TRUE(events(HEALTH_EV_CONNECT).empty());
    // The window view the /health endpoint uses.
    const auto q = monitor_->window(HEALTH_H_HANDSHAKE, kSlot);
    EXPECT_EQ(q.count, uint64_t(kConnections));
    EXPECT_GT(q.p99, 0u);
}

// Accepted connections established at the same time each keep their own entry (ESTABLISHED
// time, last RTT sample) in the programs' table: every one gets its own lifetime, of the time it
// was held, and its own RTT sample, at most one per 100 ms. All come from one client address,
// whose ports each have an entry of their own (see health_accepted_place_of): none is displaced.
TEST_F(HealthTest, ConcurrentConnectionsEachKeepTheirOwnLifetimeAndRttSamples) {
    ASSERT_NO_FATAL_FAILURE(loadAndRegister());
    raiseFdLimit(4096);
    constexpr int kConnections = 300;
    std::vector<UniqueFd> clients, servers;
    for (int i = 0; i < kConnections; ++i) {
        clients.push_back(clientConnect(kPort));
        ASSERT_TRUE(clients.back()) << "connect " << i << ": " << std::strerror(errno);
        servers.push_back(accepted(listener_.get()));
        ASSERT_TRUE(servers.back()) << "accept " << i;
    }
    const auto established = std::chrono::steady_clock::now();
    // Each server socket receives a segment (an RTT sample each), twice within 100 ms.
    for (int round = 0; round < 2; ++round)
        for (int i = 0; i < kConnections; ++i) {
            int err = 0;
            ASSERT_TRUE(writeAll(clients[i].get(), "r"));
            ASSERT_EQ(readSome(servers[i].get(), 1, err), "r") << "connection " << i << ": " << std::strerror(err);
        }
    const auto sampled = std::chrono::steady_clock::now();
    const uint64_t srtt_samples = count(hist(HEALTH_H_SRTT_LISTENER));
    EXPECT_GE(srtt_samples, uint64_t(kConnections));
    if (sampled - established < 100ms) {
        EXPECT_LE(srtt_samples, uint64_t(kConnections)) << "a connection sampled twice within 100 ms";
    }
    std::this_thread::sleep_for(300ms);  // every lifetime above 2^18 us (262 ms)
    clients.clear();
    servers.clear();

    ASSERT_TRUE(eventually([&] { return counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_CLOSED) == kConnections; }))
        << "closed " << counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_CLOSED);
    const auto lifetime = hist(HEALTH_H_LIFETIME);
    EXPECT_EQ(count(lifetime), uint64_t(kConnections)) << "connections lost their lifetime";
    uint64_t shorter = 0;
    for (int b = 0; b <= 18; ++b) shorter += lifetime.buckets[b];
    EXPECT_EQ(shorter, 0u) << "lifetimes under 262 ms for connections held at least 300 ms";
    EXPECT_LE(topBucket(lifetime), 22) << "a lifetime above 4 s";
}

// A delayed handshake (netem 50 ms, or a dropped final ACK: the SYN-ACK is resent after 1 s)
// moves the histogram to the matching bucket and makes a spike event with the right tuple,
// slot and version.
// The attribution rests on one kernel behaviour: an accepted socket inherits its listener's
// receive timeout, which carries the version mark. If a kernel stopped copying it, this says
// so by name rather than through zero counts elsewhere. The mark must also stay inert: a
// non-blocking read of an accepted socket with no data returns at once.
TEST_F(HealthTest, AcceptedConnectionsInheritTheListenersVersionMark) {
    ASSERT_NO_FATAL_FAILURE(loadAndRegister());
    UniqueFd client = clientConnect(kPort);
    ASSERT_TRUE(client) << "connect to " << kGatewayIp << ":" << kPort;
    UniqueFd server = accepted(listener_.get());
    ASSERT_TRUE(server);
    ASSERT_EQ(::fcntl(server.get(), F_SETFL, ::fcntl(server.get(), F_GETFL) | O_NONBLOCK), 0) << std::strerror(errno);

    timeval mark{};
    socklen_t len = sizeof(mark);
    ASSERT_EQ(::getsockopt(server.get(), SOL_SOCKET, SO_RCVTIMEO, &mark, &len), 0) << std::strerror(errno);
    EXPECT_GE(pins_->meta().mark_seconds, HEALTH_MARK_SECONDS);
    EXPECT_EQ(static_cast<unsigned long long>(mark.tv_sec), pins_->meta().mark_seconds + kSlot * HEALTH_MAX_INDEX + 0)
        << "the accepted socket does not carry its listener's receive timeout (the version mark)";

    // A mark out of range is refused by name and leaves the listener's mark as it was.
    auto bad_slot = pins_->markListener(listener_.get(), HEALTH_SLOTS, 0);
    ASSERT_FALSE(bad_slot);
    EXPECT_NE(bad_slot.error().what().find("slot"), std::string::npos) << bad_slot.error().what();
    auto bad_index = pins_->markListener(listener_.get(), kSlot, HEALTH_MAX_INDEX);
    ASSERT_FALSE(bad_index);
    EXPECT_NE(bad_index.error().what().find("listener index"), std::string::npos) << bad_index.error().what();
    // Not a socket: refused by name, nothing marked.
    UniqueFd not_a_socket(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(not_a_socket);
    auto bad_fd = pins_->markListener(not_a_socket.get(), kSlot, 0);
    ASSERT_FALSE(bad_fd);
    EXPECT_NE(bad_fd.error().what().find("listening fd " + std::to_string(not_a_socket.get())), std::string::npos)
        << bad_fd.error().what();
    timeval kept{};
    len = sizeof(kept);
    ASSERT_EQ(::getsockopt(listener_.get(), SOL_SOCKET, SO_RCVTIMEO, &kept, &len), 0) << std::strerror(errno);
    EXPECT_EQ(kept.tv_sec, mark.tv_sec) << "a refused mark changed the listener's";

    char byte = 0;
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(::recv(server.get(), &byte, 1, 0), -1);
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s) << "a non-blocking read waited on the mark";
}

// Two gateways with separate pins (two bpffs roots) on one host: each counts only the
// connections its own listeners accepted, though both mark theirs with the same slot and
// index and both sets of programs see every socket (each load draws its own mark base).
TEST_F(HealthTest, AnotherGatewaysConnectionsAreNotCounted) {
    ASSERT_NO_FATAL_FAILURE(loadAndRegister());
    ScopedBpffsRoot other_root("HealthTestOtherGateway");
    ASSERT_TRUE(other_root.ok()) << other_root.error();
    auto other = health::loadHealth(other_root.path());
    ASSERT_TRUE(other) << other.error().what();
    ASSERT_NE((*other)->meta().mark_seconds, pins_->meta().mark_seconds);
    ASSERT_TRUE((*other)->registerProcess(kSlot, "other-gateway/1", static_cast<uint32_t>(::getpid())));
    UniqueFd other_listener = listenReuseport(kOtherPort, 128, kGatewayIp);
    ASSERT_TRUE(other_listener);
    ASSERT_TRUE((*other)->markListener(other_listener.get(), kSlot, 0));

    constexpr int kOurs = 3, kTheirs = 5;
    for (int i = 0; i < kTheirs; ++i) {
        if (i < kOurs) {
            ASSERT_TRUE(oneConnection(kPort, listener_.get())) << "connection " << i;
        }
        ASSERT_TRUE(oneConnection(kOtherPort, other_listener.get())) << "connection " << i;
    }
    auto theirs = [&](uint32_t which) {
        auto c = (*other)->readCounters(kSlot * HEALTH_SIDES + HEALTH_SIDE_LISTENER);
        return c ? c->count[which] : 0;
    };
    ASSERT_TRUE(eventually([&] {
        return counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_CLOSED) == kOurs && theirs(HEALTH_CTR_CLOSED) == kTheirs;
    })) << "closed: ours " << counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_CLOSED) << ", theirs " << theirs(HEALTH_CTR_CLOSED);
    EXPECT_EQ(counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_OPENED), uint64_t(kOurs));
    EXPECT_EQ(count(hist(HEALTH_H_HANDSHAKE)), uint64_t(kOurs));
    EXPECT_EQ(theirs(HEALTH_CTR_OPENED), uint64_t(kTheirs));
    auto their_handshakes = (*other)->readHist(HEALTH_H_HANDSHAKE, kSlot, 0);
    ASSERT_TRUE(their_handshakes);
    EXPECT_EQ(count(*their_handshakes), uint64_t(kTheirs));
    (void)(*other)->leave(static_cast<uint32_t>(::getpid()));
}

TEST_F(HealthTest, DelayedHandshakeAndConnectBecomeSpikesWithTupleAndVersion) {
    health::SpikeSettings spikes;
    spikes.threshold_us = 30000;
    ASSERT_NO_FATAL_FAILURE(loadAndRegister({}, spikes));
    UniqueFd upstream = peerListen(kUpstreamPort);
    ASSERT_TRUE(upstream);

    const bool with_netem = netem("delay 50ms");
    uint64_t min_us = 45000, max_us = 3000000;
    std::unique_ptr<NetFault> ack_drop, synack_drop;
    if (with_netem) {
        std::cerr << "[health] fault: netem delay 50ms on the peer's veth\n";
    } else {
        std::cerr << "[health] fault: no netem here; XDP drops the final ACK and the first SYN-ACK (1 s timers)\n";
        min_us = 900000;
        // Final ACK of the handshake to kPort: a bare ACK without payload.
        ack_drop = NetFault::attach(netns_->fd(), "hgw0", {0, kPort, 0x3f, 0x10, NETFAULT_PAYLOAD_NONE, 0, 1, 0});
        ASSERT_TRUE(ack_drop) << "attach netfault to hgw0";
    }

    UniqueFd client = clientConnect(kPort);
    ASSERT_TRUE(client);
    const std::string client_end = localEndpoint(client.get());
    UniqueFd server = accepted(listener_.get());
    ASSERT_TRUE(server) << "the delayed handshake never completed";
    if (ack_drop) {
        EXPECT_EQ(ack_drop->dropped(), 1u);
    }

    const auto hs = events(HEALTH_EV_HANDSHAKE);
    ASSERT_EQ(hs.size(), 1u);
    const health_event& e = hs[0].event;
    EXPECT_EQ(e.slot, kSlot);
    EXPECT_EQ(e.side, uint32_t(HEALTH_SIDE_LISTENER));
    EXPECT_EQ(src(e), std::string(kGatewayIp) + ":" + std::to_string(kPort));
    EXPECT_EQ(dst(e), client_end);
    EXPECT_GE(e.value_us, min_us);
    EXPECT_LE(e.value_us, max_us);
    EXPECT_EQ(e.threshold_us, 30000u);
    EXPECT_GT(e.time_ms, 0u);
    EXPECT_STREQ(pins_->slot(e.slot).version, kVersion);
    const auto h = hist(HEALTH_H_HANDSHAKE);
    EXPECT_EQ(count(h), 1u);
    EXPECT_EQ(topBucket(h), static_cast<int>(std::ceil(std::log2(double(e.value_us)))));

    // Upstream connect: the first SYN-ACK from the upstream is lost (or delayed 50 ms).
    if (!with_netem) {
        synack_drop =
            NetFault::attach(netns_->fd(), "hgw0", {kUpstreamPort, 0, 0x12, 0x12, NETFAULT_PAYLOAD_ANY, 0, 1, 0});
        ASSERT_TRUE(synack_drop);
    }
    UniqueFd out = connectTo(kUpstreamPort, 0, kPeerIp);
    ASSERT_TRUE(out) << std::strerror(errno);
    if (synack_drop) {
        EXPECT_EQ(synack_drop->dropped(), 1u);
    }
    const auto cs = events(HEALTH_EV_CONNECT);
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0].event.slot, kSlot);
    EXPECT_EQ(cs[0].event.side, uint32_t(HEALTH_SIDE_UPSTREAM));
    EXPECT_EQ(src(cs[0].event), localEndpoint(out.get()));
    EXPECT_EQ(dst(cs[0].event), peerEndpointText(kUpstreamPort));
    EXPECT_GE(cs[0].event.value_us, min_us);
    EXPECT_LE(cs[0].event.value_us, max_us);
    EXPECT_EQ(count(hist(HEALTH_H_CONNECT)), 1u);
}

// Resets: a client aborting with SO_LINGER 0 is a reset received on the listener side; the
// gateway side aborting is a reset sent; an upstream that resets is a reset received on the
// upstream side. Each counted once, on its side, with an event.
TEST_F(HealthTest, ResetsAreCountedOnTheRightSide) {
    ASSERT_NO_FATAL_FAILURE(loadAndRegister());
    UniqueFd upstream = peerListen(kUpstreamPort);
    ASSERT_TRUE(upstream);

    UniqueFd client = clientConnect(kPort);
    ASSERT_TRUE(client);
    UniqueFd server = accepted(listener_.get());
    ASSERT_TRUE(server);
    closeWithReset(client);
    ASSERT_TRUE(eventually([&] { return counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_RESETS_RECEIVED) == 1; }));

    UniqueFd client2 = clientConnect(kPort);
    ASSERT_TRUE(client2);
    UniqueFd server2 = accepted(listener_.get());
    ASSERT_TRUE(server2);
    closeWithReset(server2);
    ASSERT_TRUE(eventually([&] { return counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_RESETS_SENT) == 1; }));

    UniqueFd out = connectTo(kUpstreamPort, 0, kPeerIp);
    ASSERT_TRUE(out);
    UniqueFd in = accepted(upstream.get());
    ASSERT_TRUE(in);
    closeWithReset(in);  // the upstream resets
    ASSERT_TRUE(eventually([&] { return counter(HEALTH_SIDE_UPSTREAM, HEALTH_CTR_RESETS_RECEIVED) == 1; }));

    EXPECT_EQ(counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_RESETS_RECEIVED), 1u);
    EXPECT_EQ(counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_RESETS_SENT), 1u);
    EXPECT_EQ(counter(HEALTH_SIDE_UPSTREAM, HEALTH_CTR_RESETS_SENT), 0u);
    const auto received = events(HEALTH_EV_RESET_RECEIVED);
    ASSERT_EQ(received.size(), 2u);
    EXPECT_EQ(received[0].event.side, uint32_t(HEALTH_SIDE_LISTENER));
    EXPECT_EQ(received[1].event.side, uint32_t(HEALTH_SIDE_UPSTREAM));
    EXPECT_EQ(dst(received[1].event), peerEndpointText(kUpstreamPort));
    const auto sent = events(HEALTH_EV_RESET_SENT);
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].event.slot, kSlot);
}

// Loss makes retransmits, counted on the side that retransmitted. The loss is deterministic:
// random loss (netem loss 30%) once lost a segment and its retransmits long enough for the
// client's read to time out under a slow VM.
TEST_F(HealthTest, LossProducesRetransmitCounts) {
    ASSERT_NO_FATAL_FAILURE(loadAndRegister());
    UniqueFd client = clientConnect(kPort);
    ASSERT_TRUE(client);
    UniqueFd server = accepted(listener_.get());
    ASSERT_TRUE(server);

    std::unique_ptr<NetFault> drop;
    // The gateway side's data is lost on its way to the client (the peer's ingress): with netem,
    // everything until the first retransmit is counted, then the path heals; without it, XDP on
    // the peer drops the first data segment.
    const bool netem = shellInNetns(netns_->fd(),
                                    "modprobe sch_netem >/dev/null 2>&1; tc qdisc add dev hgw0 root netem loss 100% "
                                    ">/dev/null 2>&1") == 0;
    if (netem) {
        std::cerr << "[health] fault: netem loses the gateway side's data until its first retransmit\n";
    } else {
        std::cerr << "[health] fault: no netem here; XDP on the peer drops the first data segment\n";
        drop = NetFault::attach(peer_.get(), "hpeer0", {kPort, 0, 0, 0, NETFAULT_PAYLOAD_SOME, 0, 1, 0});
        ASSERT_TRUE(drop);
    }
    const std::string chunk(1000, 'x');
    std::string received;
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(writeAll(server.get(), chunk));
        if (netem && i == 0) {
            ASSERT_TRUE(eventually([&] { return counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_RETRANSMITS) >= 1; }, 10s))
                << "no retransmit while netem dropped everything";
            ASSERT_EQ(shellInNetns(netns_->fd(), "tc qdisc del dev hgw0 root"), 0) << "could not remove netem";
        }
        int err = 0;
        received += readSome(client.get(), chunk.size(), err, 10000);
        ASSERT_EQ(err, 0) << "read " << i;
    }
    EXPECT_EQ(received.size(), 20 * chunk.size());  // the data arrived despite the loss
    if (drop) {
        EXPECT_EQ(drop->dropped(), 1u);
    }
    ASSERT_TRUE(eventually([&] { return counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_RETRANSMITS) >= 1; }));
    EXPECT_EQ(counter(HEALTH_SIDE_UPSTREAM, HEALTH_CTR_RETRANSMITS), 0u);
    const auto rt = events(HEALTH_EV_RETRANSMIT);
    ASSERT_FALSE(rt.empty());
    EXPECT_EQ(rt[0].event.slot, kSlot);
    EXPECT_EQ(src(rt[0].event), std::string(kGatewayIp) + ":" + std::to_string(kPort));
}

// A full ring buffer (tiny, and a reader that is paused) never blocks traffic: the events are
// dropped and each drop is counted; what was kept reaches the log once the reader resumes.
TEST_F(HealthTest, FullRingBufferDropsAndCountsWithoutBlockingTraffic) {
    HealthOptions options;
    options.ring_bytes = static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));  // the smallest ring: ~46 events
    ASSERT_NO_FATAL_FAILURE(loadAndRegister(options));
    monitor_->pauseDraining(true);

    constexpr int kConnections = 150;
    for (int i = 0; i < kConnections; ++i) {
        UniqueFd client = clientConnect(kPort);
        ASSERT_TRUE(client) << "connect " << i << " failed while the ring buffer was full";
        UniqueFd server = accepted(listener_.get());
        ASSERT_TRUE(server) << "accept " << i;
        ASSERT_TRUE(writeAll(client.get(), "ping"));
        int err = 0;
        ASSERT_EQ(readSome(server.get(), 4, err), "ping") << "traffic blocked at " << i;
        closeWithReset(client);  // one reset_received event each
    }
    ASSERT_TRUE(eventually([&] { return counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_RESETS_RECEIVED) == kConnections; }));
    const uint64_t emitted = global(HEALTH_EV_RESET_RECEIVED);
    const uint64_t dropped = global(HEALTH_GLOBAL_DROPPED);
    EXPECT_EQ(emitted + dropped, uint64_t(kConnections));
    EXPECT_GE(dropped, uint64_t(kConnections) / 2) << "a one-page ring buffer held " << emitted << " events";
    EXPECT_GT(emitted, 0u);

    monitor_->pauseDraining(false);
    EXPECT_EQ(events(HEALTH_EV_RESET_RECEIVED).size(), emitted);
    EXPECT_EQ(monitor_->eventsAppended(), emitted);
}

// What this kernel runs, probed independently of the loader: a raw fentry load of a
// 2-instruction program on tcp_rcv_established, and the kprobe PMU.
struct KernelSupport {
    bool fentry = false;
    bool kprobe = false;
};

KernelSupport probeKernel() {
    KernelSupport out;
    if (btf* vmlinux = btf__load_vmlinux_btf()) {
        const int id = btf__find_by_name_kind(vmlinux, "tcp_rcv_established", BTF_KIND_FUNC);
        if (id > 0) {
            const bpf_insn insns[] = {{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
                                      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
            LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY,
                        .attach_btf_id = static_cast<__u32>(id));
            const int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "probe_fentry", "GPL", insns, 2, &opts);
            if (fd >= 0) {
                out.fentry = true;
                ::close(fd);
            }
        }
        btf__free(vmlinux);
    }
    struct stat st {};
    out.kprobe = ::stat("/sys/bus/event_source/devices/kprobe/type", &st) == 0;
    std::cerr << "[health] raw probes: fentry " << (out.fentry ? "loads" : "refused") << ", kprobe PMU "
              << (out.kprobe ? "present" : "absent") << "\n";
    return out;
}

// The variant's own programs at work: an upstream connect (tcp_v4_connect hook or SYN_SENT)
// and an RTT sample (tcp_rcv_established hook or tcp_probe).
#define EXPECT_VARIANT_MEASURES()                                                          \
    do {                                                                                   \
        UniqueFd upstream = peerListen(kUpstreamPort);                                     \
        ASSERT_TRUE(upstream);                                                             \
        UniqueFd out = connectTo(kUpstreamPort, 0, kPeerIp);                               \
        ASSERT_TRUE(out);                                                                  \
        UniqueFd in = accepted(upstream.get());                                            \
        ASSERT_TRUE(in);                                                                   \
        ASSERT_TRUE(writeAll(in.get(), "pong")); /* an incoming segment: an RTT sample */  \
        int err = 0;                                                                       \
        ASSERT_EQ(readSome(out.get(), 4, err), "pong");                                    \
        EXPECT_TRUE(eventually([&] { return count(hist(HEALTH_H_SRTT_UPSTREAM)) >= 1; })); \
        EXPECT_EQ(count(hist(HEALTH_H_CONNECT)), 1u);                                      \
    } while (0)

// The loader picks the best variant the kernel runs, and reports why better ones were refused.
TEST_F(HealthTest, ChoosesTheBestVariantTheKernelRuns) {
    const KernelSupport kernel = probeKernel();
    const char* expected = kernel.fentry ? "fentry" : kernel.kprobe ? "kprobe" : "tracepoint";
    ASSERT_NO_FATAL_FAILURE(loadAndRegister());
    EXPECT_STREQ(health::modeName(pins_->mode()), expected) << pins_->reason();
    if (!kernel.fentry) {
        EXPECT_NE(pins_->reason().find("fentry unavailable ("), std::string::npos) << pins_->reason();
    }
    if (!kernel.fentry && !kernel.kprobe) {
        EXPECT_NE(pins_->reason().find("kprobe unavailable ("), std::string::npos) << pins_->reason();
    }
    if (kernel.fentry) {
        EXPECT_TRUE(pins_->reason().empty()) << pins_->reason();
    }
    EXPECT_VARIANT_MEASURES();
}

// Below fentry: kprobes where the kernel has them, else the tracepoints, and both measure.
TEST_F(HealthTest, KprobeVariantOrItsFallbackMeasures) {
    const KernelSupport kernel = probeKernel();
    HealthOptions options;
    options.best_mode = HEALTH_MODE_KPROBE;
    ASSERT_NO_FATAL_FAILURE(loadAndRegister(options));
    EXPECT_STREQ(health::modeName(pins_->mode()), kernel.kprobe ? "kprobe" : "tracepoint") << pins_->reason();
    EXPECT_EQ(pins_->reason().find("fentry"), std::string::npos) << "fentry was not to be tried";
    if (!kernel.kprobe) {
        EXPECT_NE(pins_->reason().find("kprobe unavailable ("), std::string::npos) << pins_->reason();
    }
    EXPECT_VARIANT_MEASURES();
}

// The tracepoint variant, forced, measures the same on every kernel.
TEST_F(HealthTest, TracepointVariantMeasures) {
    HealthOptions options;
    options.best_mode = HEALTH_MODE_TRACEPOINT;
    ASSERT_NO_FATAL_FAILURE(loadAndRegister(options));
    EXPECT_STREQ(health::modeName(pins_->mode()), "tracepoint");
    EXPECT_TRUE(pins_->reason().empty()) << pins_->reason();
    EXPECT_VARIANT_MEASURES();
}

// Quantiles of the log2 histograms (what /health shows as p50/p99), interpolated inside the
// bucket like Prometheus' histogram_quantile. Pure arithmetic: needs no privilege.
TEST(HealthQuantile, InterpolatesInsideLog2Buckets) {
    health_hist h{};
    EXPECT_EQ(health::histogramQuantile(h, 0.99), 0u);  // empty
    h.buckets[10] = 100;                                // 100 samples in (512, 1024] us
    EXPECT_EQ(health::histogramQuantile(h, 0.50), 768u);
    EXPECT_EQ(health::histogramQuantile(h, 0.99), 1018u);
    h.buckets[20] = 1;  // one sample in (524288, 1048576] us: the p99 of 101 samples stays low,
    EXPECT_LE(health::histogramQuantile(h, 0.99), 1024u);
    EXPECT_GT(health::histogramQuantile(h, 1.0), 524288u);  // the maximum does not
}

// A second loadHealth on the same root opens the pins instead of loading again, and the last
// process to leave unpins everything.
TEST_F(HealthTest, LaterVersionsOpenThePinsAndTheLastLeaverUnpins) {
    ASSERT_NO_FATAL_FAILURE(loadAndRegister());
    auto second = health::loadHealth(root_->path());
    ASSERT_TRUE(second) << second.error().what();
    EXPECT_EQ((*second)->meta().load_ms, pins_->meta().load_ms);  // not loaded again

    // A later version that reuses the slot starts from zero, the same version keeps counting.
    UniqueFd client = clientConnect(kPort);
    ASSERT_TRUE(client);
    UniqueFd server = accepted(listener_.get());
    ASSERT_TRUE(server);
    ASSERT_TRUE(eventually([&] { return count(hist(HEALTH_H_HANDSHAKE)) == 1; }));
    ASSERT_TRUE((*second)->registerProcess(kSlot, kVersion, static_cast<uint32_t>(::getpid())));
    EXPECT_EQ(count(hist(HEALTH_H_HANDSHAKE)), 1u);
    ASSERT_TRUE((*second)->registerProcess(kSlot, "test-2.0/fedcba654321", static_cast<uint32_t>(::getpid())));
    EXPECT_EQ(count(hist(HEALTH_H_HANDSHAKE)), 0u);
    EXPECT_EQ(counter(HEALTH_SIDE_LISTENER, HEALTH_CTR_OPENED), 0u);
    EXPECT_STREQ(pins_->slot(kSlot).version, "test-2.0/fedcba654321");  // one shared mapping
    EXPECT_EQ(&(*second)->meta() != &pins_->meta(), true);
    struct stat st {};
    const std::string dir = root_->path() + "/health";
    monitor_.reset();
    auto left = pins_->leave(static_cast<uint32_t>(::getpid()));
    ASSERT_TRUE(left) << left.error().what();
    EXPECT_TRUE(*left);
    EXPECT_NE(::stat(dir.c_str(), &st), 0) << dir << " still pinned after the last process left";
    pins_.reset();
}

}  // namespace
}  // namespace hotgate::test

// front: the XDP program. BPF_PROG_TEST_RUN on crafted frames checks the deny list and the
// per-port counters exactly; a real attach (generic XDP) on a veth pair between two network
// namespaces the test creates checks the same on live traffic. Never a host interface.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <linux/if_ether.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>

#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/front_loader.h"
#include "support/netns.h"
#include "support/privilege.h"
#include "netns_bpf_test.h"
#include "tcp_util.h"

namespace hotgate::test {
namespace {

using dataplane::FrontLoader;
using dataplane::formatPrefix;
using dataplane::parsePrefix;
using dataplane::XdpMode;

// ---------------------------------------------------------------------------------------------
// Prefix parsing (no privilege needed)

TEST(FrontPrefix, ParsesAndFormatsIpv4AndIpv6) {
    auto v4 = parsePrefix("10.1.0.0/16");
    ASSERT_TRUE(v4) << v4.error().what();
    EXPECT_EQ(v4->prefixlen, 96u + 16u);
    EXPECT_EQ(formatPrefix(*v4), "10.1.0.0/16");
    auto host = parsePrefix("192.0.2.7");
    ASSERT_TRUE(host);
    EXPECT_EQ(formatPrefix(*host), "192.0.2.7/32");
    auto v6 = parsePrefix("2001:db8::/32");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->prefixlen, 32u);
    EXPECT_EQ(formatPrefix(*v6), "2001:db8::/32");
    auto all = parsePrefix("0.0.0.0/0");
    ASSERT_TRUE(all);
    EXPECT_EQ(formatPrefix(*all), "0.0.0.0/0");
}

TEST(FrontPrefix, RejectsBadInputNamingIt) {
    for (const char* bad : {"", "10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/x", "10.0.0.0/", "nonsense",
                            "2001:db8::/129", "10.0.0.0/-1"}) {
        auto r = parsePrefix(bad);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_NE(r.error().what().find(std::string("'") + bad + "'"), std::string::npos)
                << r.error().what();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Crafted frames through BPF_PROG_TEST_RUN

std::vector<uint8_t> frame(uint16_t ethertype, const std::vector<uint8_t>& l3) {
    std::vector<uint8_t> f(14, 0);
    f[12] = static_cast<uint8_t>(ethertype >> 8);
    f[13] = static_cast<uint8_t>(ethertype & 0xff);
    f.insert(f.end(), l3.begin(), l3.end());
    return f;
}

std::vector<uint8_t> tcpHeader(uint16_t dport, uint8_t flags) {
    std::vector<uint8_t> t(20, 0);
    t[0] = 0x9c;  // source port 40000
    t[1] = 0x40;
    t[2] = static_cast<uint8_t>(dport >> 8);
    t[3] = static_cast<uint8_t>(dport & 0xff);
    t[12] = 5 << 4;  // data offset: 5 words
    t[13] = flags;
    return t;
}

std::vector<uint8_t> udpHeader(uint16_t dport) {
    std::vector<uint8_t> u(8, 0);
    u[2] = static_cast<uint8_t>(dport >> 8);
    u[3] = static_cast<uint8_t>(dport & 0xff);
    u[5] = 8;
    return u;
}

std::vector<uint8_t> ipv4(const char* src, uint8_t proto, const std::vector<uint8_t>& l4) {
    std::vector<uint8_t> ip(20, 0);
    ip[0] = 0x45;
    uint16_t total = static_cast<uint16_t>(20 + l4.size());
    ip[2] = static_cast<uint8_t>(total >> 8);
    ip[3] = static_cast<uint8_t>(total & 0xff);
    ip[8] = 64;
    ip[9] = proto;
    ::inet_pton(AF_INET, src, &ip[12]);
    ::inet_pton(AF_INET, "127.0.0.1", &ip[16]);
    ip.insert(ip.end(), l4.begin(), l4.end());
    return frame(ETH_P_IP, ip);
}

std::vector<uint8_t> ipv6(const char* src, uint8_t proto, const std::vector<uint8_t>& l4) {
    std::vector<uint8_t> ip(40, 0);
    ip[0] = 0x60;
    ip[4] = static_cast<uint8_t>(l4.size() >> 8);
    ip[5] = static_cast<uint8_t>(l4.size() & 0xff);
    ip[6] = proto;
    ip[7] = 64;
    ::inet_pton(AF_INET6, src, &ip[8]);
    ::inet_pton(AF_INET6, "::1", &ip[24]);
    ip.insert(ip.end(), l4.begin(), l4.end());
    return frame(ETH_P_IPV6, ip);
}

constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kAck = 0x10;

class FrontTest : public NetnsBpfTest {
protected:
    void SetUp() override {
        NetnsBpfTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        auto loader = FrontLoader::load(root_->path());
        ASSERT_TRUE(loader) << loader.error().what();
        front_ = std::move(*loader);
    }
    void TearDown() override {
        front_.reset();
        NetnsBpfTest::TearDown();
    }

    // Runs front_filter once on `data`; returns the XDP verdict.
    int run(const std::vector<uint8_t>& data) {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data.data(),
                    .data_size_in = static_cast<__u32>(data.size()), .repeat = 1);
        int err = bpf_prog_test_run_opts(front_->programFd(), &opts);
        EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN: " << std::strerror(-err);
        return static_cast<int>(opts.retval);
    }

    front_port_stats port(uint8_t proto, uint16_t p) {
        auto s = front_->pins().readPort(proto, p);
        EXPECT_TRUE(s) << s.error().what();
        return s ? *s : front_port_stats{};
    }

    std::unique_ptr<FrontLoader> front_;
};

TEST_F(FrontTest, TestRunCountsPortsAndSyns) {
    EXPECT_EQ(run(ipv4("10.1.2.3", IPPROTO_TCP, tcpHeader(8080, kSyn))), XDP_PASS);
    EXPECT_EQ(run(ipv4("10.1.2.3", IPPROTO_TCP, tcpHeader(8080, kSyn | kAck))), XDP_PASS);
    EXPECT_EQ(run(ipv4("10.1.2.3", IPPROTO_TCP, tcpHeader(8080, kAck))), XDP_PASS);
    EXPECT_EQ(run(ipv6("2001:db8::1", IPPROTO_TCP, tcpHeader(8080, kSyn))), XDP_PASS);
    EXPECT_EQ(run(ipv4("10.1.2.3", IPPROTO_UDP, udpHeader(53))), XDP_PASS);
    // Cut short, or not IP: passed untouched and not counted.
    auto cut = ipv4("10.1.2.3", IPPROTO_TCP, tcpHeader(9090, kSyn));
    cut.resize(14 + 20 + 10);
    EXPECT_EQ(run(cut), XDP_PASS);
    EXPECT_EQ(run(frame(0x0806, std::vector<uint8_t>(28, 0))), XDP_PASS);

    auto tcp = port(IPPROTO_TCP, 8080);
    EXPECT_EQ(tcp.packets, 4u);
    EXPECT_EQ(tcp.syns, 2u);  // SYN-ACK is not a new connection
    EXPECT_EQ(tcp.denied, 0u);
    auto udp = port(IPPROTO_UDP, 53);
    EXPECT_EQ(udp.packets, 1u);
    EXPECT_EQ(udp.syns, 0u);
    EXPECT_EQ(port(IPPROTO_TCP, 9090).packets, 0u);
}

TEST_F(FrontTest, TestRunDropsDeniedPrefixes) {
    auto& pins = front_->pins();
    auto v4 = parsePrefix("10.1.0.0/16");
    auto v6 = parsePrefix("2001:db8::/32");
    ASSERT_TRUE(v4 && v6);
    ASSERT_TRUE(pins.addDeny(*v4));
    ASSERT_TRUE(pins.addDeny(*v6));

    EXPECT_EQ(run(ipv4("10.1.2.3", IPPROTO_TCP, tcpHeader(8080, kSyn))), XDP_DROP);
    EXPECT_EQ(run(ipv4("10.1.255.255", IPPROTO_UDP, udpHeader(53))), XDP_DROP);
    EXPECT_EQ(run(ipv4("10.2.0.1", IPPROTO_TCP, tcpHeader(8080, kSyn))), XDP_PASS);
    EXPECT_EQ(run(ipv6("2001:db8:1::1", IPPROTO_TCP, tcpHeader(8080, kSyn))), XDP_DROP);
    EXPECT_EQ(run(ipv6("2001:db9::1", IPPROTO_TCP, tcpHeader(8080, kSyn))), XDP_PASS);

    auto tcp = port(IPPROTO_TCP, 8080);
    EXPECT_EQ(tcp.packets, 4u);
    EXPECT_EQ(tcp.syns, 4u);
    EXPECT_EQ(tcp.denied, 2u);
    EXPECT_EQ(port(IPPROTO_UDP, 53).denied, 1u);

    auto list = pins.listDeny();
    ASSERT_TRUE(list) << list.error().what();
    ASSERT_EQ(list->size(), 2u);
    for (const auto& e : *list) {
        if (formatPrefix(e.key) == "10.1.0.0/16") {
            EXPECT_EQ(e.hits, 2u);
        } else {
            EXPECT_EQ(formatPrefix(e.key), "2001:db8::/32");
            EXPECT_EQ(e.hits, 1u);
        }
    }

    ASSERT_TRUE(pins.delDeny(*v4));
    EXPECT_EQ(run(ipv4("10.1.2.3", IPPROTO_TCP, tcpHeader(8080, kSyn))), XDP_PASS);
    auto missing = pins.delDeny(*v4);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().errnum, ENOENT);
}

// Live traffic: veth hgf0 (10.77.0.1, this namespace, XDP attached) <-> hgf1 (10.77.0.2, a
// second namespace the test makes). A client in the peer namespace connects to a listener here.
TEST_F(FrontTest, GenericXdpOnVethCountsAndDropsLiveTraffic) {
    auto peer = createNetns();
    ASSERT_TRUE(peer) << peer.error().what();
    auto veth = createVethPair("hgf0", "10.77.0.1/24", "hgf1", "10.77.0.2/24", peer->get());
    ASSERT_TRUE(veth) << veth.error().what();
    ASSERT_TRUE(front_->attach("hgf0", XdpMode::kGeneric));

    UniqueFd listener = listenReuseport(8080, 16, "10.77.0.1");
    ASSERT_TRUE(listener) << std::strerror(errno);

    // Connects from the peer namespace; true when the handshake completes within
    // timeout_ms (3 s leaves room for one SYN retransmission, sent after 1 s).
    auto connectFromPeer = [&](int timeout_ms) {
        bool connected = false;
        auto ran = runInNetns(peer->get(), [&] {
            UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            sockaddr_in addr = ipv4Address("10.77.0.1", 8080);
            ::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
            pollfd p{c.get(), POLLOUT, 0};
            if (::poll(&p, 1, timeout_ms) == 1) {
                int err = 0;
                socklen_t len = sizeof(err);
                ::getsockopt(c.get(), SOL_SOCKET, SO_ERROR, &err, &len);
                connected = err == 0;
            }
            closeWithReset(c);
        });
        EXPECT_TRUE(ran) << ran.error().what();
        return connected;
    };

    ASSERT_TRUE(connectFromPeer(3000));
    if (auto a = acceptAny({listener.get()}, 1000)) closeWithReset(a->second);
    auto stats = port(IPPROTO_TCP, 8080);
    EXPECT_GE(stats.syns, 1u);     // 2 if the first SYN had to be retransmitted
    EXPECT_GE(stats.packets, 2u);  // SYN and the handshake's ACK at least
    EXPECT_EQ(stats.denied, 0u);

    auto peer_prefix = parsePrefix("10.77.0.2/32");
    ASSERT_TRUE(peer_prefix);
    ASSERT_TRUE(front_->pins().addDeny(*peer_prefix));
    EXPECT_FALSE(connectFromPeer(1500)) << "SYN from a denied prefix reached the listener";
    stats = port(IPPROTO_TCP, 8080);
    EXPECT_GE(stats.denied, 1u);

    // Detached, the same client gets through even though the prefix is still listed.
    ASSERT_TRUE(front_->detach("hgf0"));
    EXPECT_TRUE(connectFromPeer(3000));
}

// lo has no native XDP: auto mode falls back to generic.
TEST_F(FrontTest, AutoModeFallsBackToGenericOnLoopback) {
    auto native = front_->attach("lo", XdpMode::kNative);
    ASSERT_FALSE(native);
    EXPECT_EQ(native.error().errnum, EOPNOTSUPP) << native.error().what();
    auto attached = front_->attach("lo", XdpMode::kAuto);
    ASSERT_TRUE(attached) << attached.error().what();

    UniqueFd listener = listenReuseport(8081);
    ASSERT_TRUE(listener);
    UniqueFd client = connectTo(8081);
    ASSERT_TRUE(client);
    EXPECT_EQ(port(IPPROTO_TCP, 8081).syns, 1u);
    ASSERT_TRUE(front_->detach("lo"));
}

// The pinned link lets the next version replace the program in place.
TEST_F(FrontTest, SecondLoaderTakesOverThePinnedLink) {
    ASSERT_TRUE(runIp({"link", "add", "hgf2", "type", "veth", "peer", "name", "hgf3"}));
    ASSERT_TRUE(front_->attach("hgf2", XdpMode::kGeneric));
    auto next = FrontLoader::load(root_->path());
    ASSERT_TRUE(next) << next.error().what();
    auto attached = (*next)->attach("hgf2", XdpMode::kGeneric);
    ASSERT_TRUE(attached) << attached.error().what();
    ASSERT_TRUE((*next)->detach("hgf2"));
}

}  // namespace
}  // namespace hotgate::test

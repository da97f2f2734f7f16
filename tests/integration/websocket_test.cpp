// WebSocket through the gateway: the upgrade is forwarded, the 101 comes back, and after it
// the tunnel carries frames byte-for-byte in both directions.
#include <gtest/gtest.h>

#include "gateway_fixture.h"
#include "support/websocket_client.h"

namespace hotgate::test {
namespace {

class WebSocketTest : public GatewayFixture {};

TEST_F(WebSocketTest, EchoesMessagesByteForByteThroughTheTunnel) {
    ASSERT_TRUE(startGateway());
    WebSocketClient ws(port());
    ASSERT_TRUE(ws.handshake("/ws")) << ws.error();
    EXPECT_EQ(ws.handshakeResponse().result_int(), 101u);
    EXPECT_NE(ws.handshakeResponse().find("x-hotgate-version"), ws.handshakeResponse().end())
        << "the 101 response lacks x-hotgate-version";

    std::string all_octets;
    for (int i = 0; i < 256; ++i) all_octets += static_cast<char>(i);
    std::string large(1024 * 1024, '\0');
    for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>((i * 7919) % 251);

    struct Message {
        std::string data;
        bool binary;
    };
    std::vector<Message> messages = {
        {"hello", false},
        {"", false},
        {all_octets, true},
        {std::string(70000, 'x'), false},  // needs the 64-bit length form
        {large, true},
        {"bye", false},
    };
    for (std::size_t i = 0; i < messages.size(); ++i) {
        SCOPED_TRACE("message " + std::to_string(i));
        ASSERT_TRUE(ws.send(messages[i].data, messages[i].binary)) << ws.error();
        std::string echoed;
        bool binary = false;
        ASSERT_TRUE(ws.receive(echoed, binary)) << ws.error();
        EXPECT_EQ(binary, messages[i].binary);
        EXPECT_TRUE(echoed == messages[i].data) << "echo of " << messages[i].data.size() << " bytes came back as "
                                                << echoed.size() << " different bytes";
    }
    EXPECT_TRUE(ws.close()) << ws.error();
}

TEST_F(WebSocketTest, SeveralMessagesInFlightKeepTheirOrder) {
    ASSERT_TRUE(startGateway());
    WebSocketClient ws(port());
    ASSERT_TRUE(ws.handshake("/ws")) << ws.error();
    constexpr int kMessages = 50;
    for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(ws.send("message " + std::to_string(i), false)) << ws.error();
    for (int i = 0; i < kMessages; ++i) {
        std::string echoed;
        bool binary = true;
        ASSERT_TRUE(ws.receive(echoed, binary)) << ws.error();
        EXPECT_EQ(echoed, "message " + std::to_string(i));
        EXPECT_FALSE(binary);
    }
    EXPECT_TRUE(ws.close()) << ws.error();
}

TEST_F(WebSocketTest, TwoTunnelsAtOnceStayApart) {
    ASSERT_TRUE(startGateway());
    WebSocketClient a(port());
    WebSocketClient b(port());
    ASSERT_TRUE(a.handshake("/ws")) << a.error();
    ASSERT_TRUE(b.handshake("/ws")) << b.error();
    ASSERT_TRUE(a.send("from a", false)) << a.error();
    ASSERT_TRUE(b.send("from b", true)) << b.error();
    std::string echoed;
    bool binary = false;
    ASSERT_TRUE(b.receive(echoed, binary)) << b.error();
    EXPECT_EQ(echoed, "from b");
    EXPECT_TRUE(binary);
    ASSERT_TRUE(a.receive(echoed, binary)) << a.error();
    EXPECT_EQ(echoed, "from a");
    EXPECT_FALSE(binary);
    EXPECT_EQ(upstream_.connectionsAccepted(), 2u) << "each tunnel needs its own upstream connection";
}

}  // namespace
}  // namespace hotgate::test

// Control protocol frames over a real socketpair: round trips with fds, and every kind of
// malformed frame refused with its reason.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <gtest/gtest.h>

#include "control/fd_passing.h"

namespace hotgate::control {
namespace {

using namespace std::chrono_literals;

FrameHeader headerFor(MessageType type, std::uint32_t length, std::uint32_t fd_count = 0) {
    FrameHeader header{};
    std::memcpy(header.magic, kMagic, sizeof kMagic);
    header.version = kControlProtocolVersion;
    header.type = static_cast<std::uint16_t>(type);
    header.length = length;
    header.fd_count = fd_count;
    return header;
}

// Writes raw bytes to `fd` (a peer that does not follow the protocol).
void writeRaw(int fd, const void* data, std::size_t size) {
    ASSERT_EQ(::write(fd, data, size), static_cast<ssize_t>(size));
}

TEST(ControlProtocol, RoundTripsPayloadAndFileDescriptors) {
    auto pair = socketPair();
    ASSERT_TRUE(pair) << pair.error().message;
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const int to_pass[] = {pipe_fds[0], pipe_fds[1]};
    auto sent = sendMessage(pair->first.get(), MessageType::Handover,
                            {{"version", "v1/abc"}, {"listeners", {{{"name", "public"}, {"fds", 2}}}}}, to_pass);
    ASSERT_TRUE(sent) << sent.error().message;

    auto message = receiveMessage(pair->second.get(), 2s);
    ASSERT_TRUE(message) << message.error().message;
    EXPECT_EQ(message->type, MessageType::Handover);
    EXPECT_EQ(message->payload["version"], "v1/abc");
    ASSERT_EQ(message->fds.size(), 2u);
    // The received fds are the same pipe: what goes into one end comes out of the other.
    writeRaw(message->fds[1].get(), "x", 1);
    char c = 0;
    ASSERT_EQ(::read(pipe_fds[0], &c, 1), 1);
    EXPECT_EQ(c, 'x');
    EXPECT_TRUE(::fcntl(message->fds[0].get(), F_GETFD) & FD_CLOEXEC);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
}

TEST(ControlProtocol, SeveralFramesInARowKeepTheirBoundaries) {
    auto pair = socketPair();
    ASSERT_TRUE(pair);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(sendMessage(pair->first.get(), MessageType::Status, {{"n", i}}));
    for (int i = 0; i < 3; ++i) {
        auto message = receiveMessage(pair->second.get(), 2s);
        ASSERT_TRUE(message) << message.error().message;
        EXPECT_EQ(message->payload["n"], i);
    }
}

TEST(ControlProtocol, RefusesBadMagic) {
    auto pair = socketPair();
    auto header = headerFor(MessageType::Status, 0);
    std::memcpy(header.magic, "HTTP", 4);
    writeRaw(pair->first.get(), &header, sizeof header);
    auto message = receiveMessage(pair->second.get(), 2s);
    ASSERT_FALSE(message);
    EXPECT_NE(message.error().message.find("bad magic"), std::string::npos);
}

TEST(ControlProtocol, RefusesAnotherProtocolVersionNamingBoth) {
    auto pair = socketPair();
    auto header = headerFor(MessageType::Hello, 0);
    header.version = kControlProtocolVersion + 6;
    writeRaw(pair->first.get(), &header, sizeof header);
    auto message = receiveMessage(pair->second.get(), 2s);
    ASSERT_FALSE(message);
    EXPECT_NE(message.error().message.find("peer speaks protocol version 7, this hotgate speaks 1"), std::string::npos)
        << message.error().message;
}

TEST(ControlProtocol, RefusesUnknownType) {
    auto pair = socketPair();
    auto header = headerFor(static_cast<MessageType>(999), 0);
    writeRaw(pair->first.get(), &header, sizeof header);
    auto message = receiveMessage(pair->second.get(), 2s);
    ASSERT_FALSE(message);
    EXPECT_NE(message.error().message.find("unknown message type 999"), std::string::npos);
}

TEST(ControlProtocol, RefusesOversizedPayloadWithoutReadingIt) {
    auto pair = socketPair();
    auto header = headerFor(MessageType::Status, kMaxPayloadBytes + 1);
    writeRaw(pair->first.get(), &header, sizeof header);
    auto message = receiveMessage(pair->second.get(), 2s);
    ASSERT_FALSE(message);
    EXPECT_NE(message.error().message.find("exceeds"), std::string::npos);
}

TEST(ControlProtocol, RefusesTruncatedFrame) {
    auto pair = socketPair();
    auto header = headerFor(MessageType::Status, 100);
    writeRaw(pair->first.get(), &header, sizeof header);
    writeRaw(pair->first.get(), "{\"a\":", 5);
    pair->first.reset();  // the peer goes away mid-payload
    auto message = receiveMessage(pair->second.get(), 2s);
    ASSERT_FALSE(message);
    EXPECT_NE(message.error().message.find("truncated frame"), std::string::npos);
}

TEST(ControlProtocol, RefusesPayloadThatIsNotAJsonObject) {
    auto pair = socketPair();
    const std::string body = "[1,2";
    auto header = headerFor(MessageType::Status, static_cast<std::uint32_t>(body.size()));
    writeRaw(pair->first.get(), &header, sizeof header);
    writeRaw(pair->first.get(), body.data(), body.size());
    auto message = receiveMessage(pair->second.get(), 2s);
    ASSERT_FALSE(message);
    EXPECT_NE(message.error().message.find("not a JSON object"), std::string::npos);
}

TEST(ControlProtocol, RefusesFdCountThatDoesNotMatch) {
    auto pair = socketPair();
    auto header = headerFor(MessageType::Handover, 2, 3);  // announces 3 fds, sends none
    writeRaw(pair->first.get(), &header, sizeof header);
    writeRaw(pair->first.get(), "{}", 2);
    auto message = receiveMessage(pair->second.get(), 2s);
    ASSERT_FALSE(message);
    EXPECT_NE(message.error().message.find("announced 3 fds but carried 0"), std::string::npos);
}

TEST(ControlProtocol, TimesOutOnASilentPeer) {
    auto pair = socketPair();
    auto message = receiveMessage(pair->second.get(), 100ms);
    ASSERT_FALSE(message);
    EXPECT_EQ(message.error().errnum, ETIMEDOUT);
}

// A receiver polling with a short timeout must not give up inside a frame that has begun:
// that would leave the stream in the middle of a frame (seen as a spurious lost link).
TEST(ControlProtocol, AFrameThatBeganIsReadWholePastTheWaitTimeout) {
    auto pair = socketPair();
    const std::string body = R"({"n":7})";
    auto header = headerFor(MessageType::Status, static_cast<std::uint32_t>(body.size()));
    writeRaw(pair->first.get(), &header, sizeof header);
    std::thread late([&] {
        std::this_thread::sleep_for(300ms);
        writeRaw(pair->first.get(), body.data(), body.size());
    });
    auto message = receiveMessage(pair->second.get(), 100ms);
    late.join();
    ASSERT_TRUE(message) << message.error().message;
    EXPECT_EQ(message->payload["n"], 7);
}

TEST(ControlProtocol, ReportsAClosedPeer) {
    auto pair = socketPair();
    pair->first.reset();
    auto message = receiveMessage(pair->second.get(), 2s);
    ASSERT_FALSE(message);
    EXPECT_EQ(message.error().errnum, ECONNRESET);
}

}  // namespace
}  // namespace hotgate::control

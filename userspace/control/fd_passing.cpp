#include "control/fd_passing.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "common/poll_wait.h"

namespace hotgate::control {
namespace {

using Clock = std::chrono::steady_clock;

// Reads exactly `size` bytes; the first recvmsg may carry SCM_RIGHTS fds, which go to `fds`.
Result<void> readExactly(int socket, char* data, std::size_t size, Clock::time_point deadline,
                         std::vector<UniqueFd>* fds, const char* what) {
    std::size_t got = 0;
    while (got < size) {
        if (!waitForEvents(socket, POLLIN, deadline)) return sysError(errno, "control: waiting for ", what);
        iovec iov{data + got, size - got};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        if (fds) {
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
        }
        const ssize_t n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return sysError(errno, "control: reading ", what);
        }
        if (n == 0) {
            if (got == 0 && std::strcmp(what, "frame header") == 0)
                return tl::unexpected(Error{"control: peer closed the connection", ECONNRESET});
            return fail("control: truncated frame (peer closed inside the ", what, ")");
        }
        if (fds) {
            for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
                const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                const int* received = reinterpret_cast<const int*>(CMSG_DATA(c));
                for (std::size_t i = 0; i < count; ++i) fds->emplace_back(received[i]);
            }
            if (msg.msg_flags & MSG_CTRUNC) return fail("control: too many file descriptors in one frame (limit ", kMaxFds, ")");
            fds = nullptr;  // fds ride only on the header's first bytes
        }
        got += static_cast<std::size_t>(n);
    }
    return {};
}

}  // namespace

const char* messageTypeName(std::uint16_t type) {
    switch (static_cast<MessageType>(type)) {
        case MessageType::Ok: return "Ok";
        case MessageType::Error: return "Error";
        case MessageType::Status: return "Status";
        case MessageType::StatusReply: return "StatusReply";
        case MessageType::Cutover: return "Cutover";
        case MessageType::Commit: return "Commit";
        case MessageType::Rollback: return "Rollback";
        case MessageType::UpgradeStages: return "UpgradeStages";
        case MessageType::Verify: return "Verify";
        case MessageType::Hello: return "Hello";
        case MessageType::Handover: return "Handover";
        case MessageType::Ready: return "Ready";
        case MessageType::Failed: return "Failed";
        case MessageType::AdoptConnection: return "AdoptConnection";
        case MessageType::Stop: return "Stop";
        case MessageType::Committed: return "Committed";
        case MessageType::Heartbeat: return "Heartbeat";
        case MessageType::Activate: return "Activate";
        case MessageType::ShadowConnection: return "ShadowConnection";
        case MessageType::ConfigApply: return "ConfigApply";
        case MessageType::ConfigRollback: return "ConfigRollback";
        case MessageType::ConfigHistory: return "ConfigHistory";
        case MessageType::ConfigDiff: return "ConfigDiff";
        case MessageType::CertsReload: return "CertsReload";
        case MessageType::LogsReopen: return "LogsReopen";
        case MessageType::RotateTicketKey: return "RotateTicketKey";
    }
    return nullptr;
}

Result<void> sendMessage(int socket, MessageType type, const nlohmann::json& payload, std::span<const int> fds) {
    if (fds.size() > kMaxFds) return fail("control: ", fds.size(), " fds exceed the limit of ", kMaxFds);
    // Text from config files need not be UTF-8: replace invalid bytes rather than throw.
    const std::string body = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (body.size() > kMaxPayloadBytes) return fail("control: payload of ", body.size(), " bytes exceeds ", kMaxPayloadBytes);
    FrameHeader header{};
    std::memcpy(header.magic, kMagic, sizeof kMagic);
    header.version = kControlProtocolVersion;
    header.type = static_cast<std::uint16_t>(type);
    header.length = static_cast<std::uint32_t>(body.size());
    header.fd_count = static_cast<std::uint32_t>(fds.size());

    iovec iov[2] = {{&header, sizeof header}, {const_cast<char*>(body.data()), body.size()}};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    if (!fds.empty()) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    std::size_t total = sizeof header + body.size();
    std::size_t sent = 0;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (sent < total) {
        if (!waitForEvents(socket, POLLOUT, deadline)) return sysError(errno, "control: sending ", messageTypeName(header.type));
        const ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return sysError(errno, "control: sending ", messageTypeName(header.type));
        }
        sent += static_cast<std::size_t>(n);
        // Continue with what is left, without the fds (they went with the first byte).
        msg.msg_control = nullptr;
        msg.msg_controllen = 0;
        std::size_t skip = static_cast<std::size_t>(n);
        for (auto& part : iov) {
            const std::size_t used = std::min(skip, part.iov_len);
            part.iov_base = static_cast<char*>(part.iov_base) + used;
            part.iov_len -= used;
            skip -= used;
        }
        if (iov[0].iov_len == 0) {
            msg.msg_iov = &iov[1];
            msg.msg_iovlen = 1;
        }
    }
    return {};
}

Result<Message> receiveMessage(int socket, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    FrameHeader header{};
    Message message;
    // `timeout` bounds the wait for a frame to begin. Once its first bytes are here the rest is
    // in flight: it gets its own, longer bound, and a stall inside a frame is an error of the
    // stream (EPROTO), never a timeout the caller could retry from the middle of a frame.
    char first = 0;
    if (auto r = readExactly(socket, &first, 1, deadline, &message.fds, "frame header"); !r) return tl::unexpected(r.error());
    const auto frame_deadline = Clock::now() + std::max<std::chrono::milliseconds>(timeout, std::chrono::seconds(5));
    reinterpret_cast<char*>(&header)[0] = first;
    if (auto r = readExactly(socket, reinterpret_cast<char*>(&header) + 1, sizeof header - 1, frame_deadline, nullptr,
                             "frame header");
        !r)
        return tl::unexpected(Error{r.error().message, EPROTO});
    if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0) return fail("control: bad magic (not a hotgate control frame)");
    if (header.version != kControlProtocolVersion)
        return fail("control: peer speaks protocol version ", header.version, ", this hotgate speaks ", kControlProtocolVersion);
    if (!messageTypeName(header.type)) return fail("control: unknown message type ", header.type);
    if (header.length > kMaxPayloadBytes)
        return fail("control: payload of ", header.length, " bytes exceeds ", kMaxPayloadBytes);
    if (header.fd_count > kMaxFds) return fail("control: fd count ", header.fd_count, " exceeds ", kMaxFds);
    if (message.fds.size() != header.fd_count)
        return fail("control: frame announced ", header.fd_count, " fds but carried ", message.fds.size());
    std::string body(header.length, '\0');
    if (header.length > 0)
        if (auto r = readExactly(socket, body.data(), body.size(), frame_deadline, nullptr, "payload"); !r)
            return tl::unexpected(Error{r.error().message, EPROTO});
    message.type = static_cast<MessageType>(header.type);
    message.payload = nlohmann::json::parse(body.empty() ? std::string("{}") : body, nullptr, false);
    if (message.payload.is_discarded() || !message.payload.is_object())
        return fail("control: ", messageTypeName(header.type), " payload is not a JSON object");
    return message;
}

Result<std::pair<UniqueFd, UniqueFd>> socketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return sysError(errno, "control: socketpair");
    return std::make_pair(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

}  // namespace hotgate::control

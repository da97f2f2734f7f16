// RecordingUpstream: the upstream of the framing conformance corpus. It records every byte it
// receives, exactly, in arrival order, and answers each complete request either with
// "seen <target>\n" (200, Content-Length) or with bytes a test scripted for the next request,
// so a test can check what the gateway forwarded and what it does with a malformed response.
// Plain blocking sockets on 127.0.0.1:0, one thread per connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace hotgate::test {

class RecordingUpstream {
public:
    RecordingUpstream();  // port() is 0 when the bind failed
    ~RecordingUpstream();
    RecordingUpstream(const RecordingUpstream&) = delete;
    RecordingUpstream& operator=(const RecordingUpstream&) = delete;

    std::uint16_t port() const;

    // Every byte received since the last clear(), in arrival order (connections interleave only
    // if the gateway wrote to two at once).
    std::string received() const;
    void clear();
    std::uint64_t connectionsAccepted() const;

    // The next complete request is answered with exactly `bytes` instead of the default answer;
    // with `close_after` the upstream then closes that connection.
    void scriptNextReply(std::string bytes, bool close_after);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace hotgate::test

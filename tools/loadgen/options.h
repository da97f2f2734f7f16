// Options: everything loadgen is told on its command line, validated (loopback target, bounded
// duration, hard caps on every count) before any socket is opened.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <tl/expected.hpp>

namespace hotgate::loadgen {

enum class KeepaliveMode {
    kMixed,   // even-numbered clients busy, odd-numbered paused
    kBusy,    // next request as soon as the response is read
    kPaused,  // a random pause in [--pause-min-ms, --pause-max-ms] between requests
};

// Hard caps: a typo must not turn loadgen into a fork bomb for the box it shares with the gateway.
inline constexpr unsigned kMaxDurationS = 600;
inline constexpr unsigned kMaxRate = 50'000;
inline constexpr unsigned kMaxKeepalive = 5'000;
inline constexpr unsigned kMaxStreams = 5'000;
inline constexpr unsigned kMaxThreads = 16;
inline constexpr unsigned kMaxInflight = 50'000;
inline constexpr unsigned kMaxTimeoutMs = 120'000;
inline constexpr unsigned kMaxPauseMs = 60'000;
inline constexpr unsigned kMaxStreamBytes = 1 << 20;

struct Options {
    std::string target_text;  // as given; also the Host header
    boost::asio::ip::tcp::endpoint target;
    unsigned duration_s = 0;
    unsigned rate = 0;
    unsigned keepalive = 0;
    unsigned streams = 0;
    unsigned threads = 1;
    std::string path = "/";
    std::string stream_path = "/ws";
    KeepaliveMode keepalive_mode = KeepaliveMode::kMixed;
    unsigned pause_min_ms = 0;
    unsigned pause_max_ms = 200;
    unsigned timeout_ms = 5000;
    unsigned max_lag_ms = 1000;          // a --rate request later than this is skipped
    unsigned max_inflight = 10'000;      // --rate requests open at once (per run)
    unsigned stream_interval_ms = 100;
    unsigned stream_bytes = 256;         // random payload per message: 1..stream_bytes bytes
    std::uint64_t seed = 1;
    std::string json_file;               // empty: summary to stdout
    bool quiet = false;                  // no per-second lines
    // --netns-target: the target may be a private IPv4 address (10/8, 172.16/12, 192.168/16)
    // when loadgen runs in an isolated network namespace (not PID 1's, no default route), e.g.
    // one a chaos test made to put a veth with netem between the client and the gateway.
    bool netns_target = false;
};

// Parses "127.0.0.1:8080", "[::1]:8080" or "localhost:8080". Refuses any address outside
// 127.0.0.0/8 and ::1, a missing or zero port, and anything that is not a literal address.
tl::expected<boost::asio::ip::tcp::endpoint, std::string> parseLoopbackTarget(std::string_view text);

// The same syntax; also accepts a private IPv4 address (10/8, 172.16/12, 192.168/16), and
// nothing else outside loopback. For --netns-target.
tl::expected<boost::asio::ip::tcp::endpoint, std::string> parsePrivateTarget(std::string_view text);

// True when this process's network namespace is not PID 1's (when /proc shows PID 1's) and
// has no IPv4 default route (/proc/self/net/route): a namespace someone made, with no way off
// the box. False when /proc cannot tell.
bool inIsolatedNetworkNamespace();

// Checks ranges and caps and resolves the target into options.target (loopback, or with
// netns_target a private address, only from a network namespace of loadgen's own). The error
// says which option is wrong and why.
tl::expected<void, std::string> validate(Options& options);

std::string_view keepaliveModeName(KeepaliveMode mode);

}  // namespace hotgate::loadgen

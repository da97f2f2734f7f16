#include "options.h"

#include <sys/stat.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace hotgate::loadgen {

namespace ip = boost::asio::ip;

namespace {

enum class TargetScope { kLoopback, kPrivate };

bool isPrivateV4(const ip::address& address) {
    if (!address.is_v4()) return false;
    const auto bytes = address.to_v4().to_bytes();
    return bytes[0] == 10 || (bytes[0] == 172 && (bytes[1] & 0xf0) == 16) || (bytes[0] == 192 && bytes[1] == 168);
}

tl::expected<ip::tcp::endpoint, std::string> parseTarget(std::string_view text, TargetScope scope) {
    const auto bad = [&](std::string_view why) {
        return tl::unexpected("--target " + std::string(text) + ": " + std::string(why));
    };
    std::string_view host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return bad("expected [ADDRESS]:PORT");
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon)
            return bad("expected ADDRESS:PORT (IPv6 as [::1]:PORT)");
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
    }
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
        return bad("port must be 1-65535");

    ip::address address;
    if (host == "localhost") {
        address = ip::address_v4::loopback();
    } else {
        boost::system::error_code parse_error;
        address = ip::make_address(std::string(host), parse_error);
        if (parse_error) return bad("not a literal IP address (loadgen resolves no names)");
    }
    // loadgen only ever loads this box: 127.0.0.0/8 or ::1, nothing that leaves it; a private
    // address only inside a namespace of its own (checked by validate()).
    if (scope == TargetScope::kPrivate && isPrivateV4(address))
        return ip::tcp::endpoint(address, static_cast<unsigned short>(port));
    if (!address.is_loopback())
        return bad(scope == TargetScope::kPrivate
                       ? "refused: with --netns-target, loopback or a private IPv4 address (10/8, 172.16/12, 192.168/16)"
                       : "refused: loadgen only targets loopback (127.0.0.0/8 or ::1)");
    return ip::tcp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace

tl::expected<ip::tcp::endpoint, std::string> parseLoopbackTarget(std::string_view text) {
    return parseTarget(text, TargetScope::kLoopback);
}

tl::expected<ip::tcp::endpoint, std::string> parsePrivateTarget(std::string_view text) {
    return parseTarget(text, TargetScope::kPrivate);
}

bool inIsolatedNetworkNamespace() {
    struct stat self {};
    struct stat init {};
    if (::stat("/proc/self/ns/net", &self) != 0) return false;
    // PID 1's namespace is the host's (or the container's): never isolated. Where PID 1 cannot
    // be seen (a restricted /proc), the route check below decides.
    if (::stat("/proc/1/ns/net", &init) == 0 && self.st_ino == init.st_ino && self.st_dev == init.st_dev) return false;
    // A default route is a way off the box.
    std::ifstream routes("/proc/self/net/route");
    if (!routes) return false;
    std::string line;
    std::getline(routes, line);  // the header
    while (std::getline(routes, line)) {
        std::istringstream fields(line);
        std::string device, destination, gateway, flags, refcnt, use, metric, mask;
        if (fields >> device >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask &&
            destination == "00000000" && mask == "00000000")
            return false;
    }
    return true;
}

tl::expected<void, std::string> validate(Options& options) {
    if (options.netns_target && !inIsolatedNetworkNamespace())
        return tl::unexpected(std::string(
            "--netns-target refused: loadgen runs in PID 1's network namespace, or in one with a default route"));
    const auto target =
        options.netns_target ? parsePrivateTarget(options.target_text) : parseLoopbackTarget(options.target_text);
    if (!target) return tl::unexpected(target.error());
    options.target = *target;

    const auto over = [](std::string_view name, unsigned value, unsigned cap) {
        return tl::unexpected(std::string(name) + " " + std::to_string(value) + " is over the cap of " +
                              std::to_string(cap));
    };
    if (options.duration_s == 0) return tl::unexpected(std::string("--duration must be at least 1 second"));
    if (options.duration_s > kMaxDurationS) return over("--duration", options.duration_s, kMaxDurationS);
    if (options.rate > kMaxRate) return over("--rate", options.rate, kMaxRate);
    if (options.keepalive > kMaxKeepalive) return over("--keepalive", options.keepalive, kMaxKeepalive);
    if (options.streams > kMaxStreams) return over("--streams", options.streams, kMaxStreams);
    if (options.threads == 0) return tl::unexpected(std::string("--threads must be at least 1"));
    if (options.threads > kMaxThreads) return over("--threads", options.threads, kMaxThreads);
    if (options.max_inflight == 0 || options.max_inflight > kMaxInflight)
        return tl::unexpected("--max-inflight must be 1-" + std::to_string(kMaxInflight));
    if (options.timeout_ms == 0 || options.timeout_ms > kMaxTimeoutMs)
        return tl::unexpected("--timeout-ms must be 1-" + std::to_string(kMaxTimeoutMs));
    if (options.pause_max_ms > kMaxPauseMs) return over("--pause-max-ms", options.pause_max_ms, kMaxPauseMs);
    if (options.pause_min_ms > options.pause_max_ms)
        return tl::unexpected(std::string("--pause-min-ms must not exceed --pause-max-ms"));
    if (options.stream_interval_ms == 0 || options.stream_interval_ms > kMaxPauseMs)
        return tl::unexpected("--stream-interval-ms must be 1-" + std::to_string(kMaxPauseMs));
    if (options.stream_bytes == 0 || options.stream_bytes > kMaxStreamBytes)
        return tl::unexpected("--stream-bytes must be 1-" + std::to_string(kMaxStreamBytes));
    if (options.rate == 0 && options.keepalive == 0 && options.streams == 0)
        return tl::unexpected(std::string("nothing to do: give at least one of --rate, --keepalive, --streams"));
    for (const std::string* path : {&options.path, &options.stream_path}) {
        if (path->empty() || path->front() != '/' || path->find_first_of(" \r\n") != std::string::npos)
            return tl::unexpected("path '" + *path + "' must start with / and hold no spaces or line breaks");
    }
    return {};
}

std::string_view keepaliveModeName(KeepaliveMode mode) {
    switch (mode) {
    case KeepaliveMode::kMixed: return "mixed";
    case KeepaliveMode::kBusy: return "busy";
    case KeepaliveMode::kPaused: return "paused";
    }
    return "?";
}

}  // namespace hotgate::loadgen

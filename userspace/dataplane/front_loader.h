// FrontLoader: owns the front skeleton (XDP counters and deny list), pins its maps in
// <root>/front/ and attaches front_filter to listener interfaces through pinned bpf_links, so
// the XDP program survives a version handover and the next version replaces it atomically.
// FrontPins: the pinned maps, for gwctl deny and status. Plus CIDR parsing for the deny list.
#pragma once

#include <linux/types.h>  // before front.h: it uses the kernel's __u8/__u32/__u64

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/unique_fd.h"
#include "dataplane/bpffs.h"
#include "dataplane/bpffs_map.h"
#include "front.h"

struct front;  // generated skeleton (front.skel.h)

static_assert(sizeof(front_deny_key) == 20, "front.h layout changed");
static_assert(sizeof(front_deny_value) == 8, "front.h layout changed");
static_assert(sizeof(front_port_key) == 4, "front.h layout changed");
static_assert(sizeof(front_port_stats) == 24, "front.h layout changed");

namespace hotgate::dataplane {

inline constexpr std::string_view kFrontPinName = "front";

// The maps of front.bpf.c as this build defines them (pinned maps are checked against it).
std::span<const MapSpec> frontMapSpecs();

// Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128) into a deny-list
// key (IPv4 stored IPv4-mapped, prefixlen 96 + N). Fails, naming the input, on a bad address,
// a bad or out-of-range length, or host bits set beyond the prefix.
Result<front_deny_key> parsePrefix(std::string_view cidr);
// The inverse: "10.0.0.0/8" or "2001:db8::/32".
std::string formatPrefix(const front_deny_key& key);

struct DenyEntry {
    front_deny_key key{};
    uint64_t hits = 0;
};

struct PortCounters {
    uint8_t proto = 0;  // IPPROTO_TCP or IPPROTO_UDP
    uint16_t port = 0;
    front_port_stats stats{};  // summed over CPUs
};

// The pinned maps of the XDP front. Movable, not copyable.
class FrontPins {
public:
    // Opens <root>/front/front_deny_map and front_port_map. Fails (ENOENT) when no front
    // was ever loaded under this root, and naming the map when one has another layout.
    static Result<FrontPins> open(const std::string& bpffs_root);
    FrontPins(UniqueFd deny_map, UniqueFd port_map);

    // Adds (or resets the hit count of) a prefix.
    Result<void> addDeny(const front_deny_key& key);
    // Removes a prefix; fails with ENOENT when it is not in the list.
    Result<void> delDeny(const front_deny_key& key);
    Result<std::vector<DenyEntry>> listDeny() const;
    // Every (protocol, port) row, sorted by protocol then port.
    Result<std::vector<PortCounters>> readPorts() const;
    // One row; zeros when the port was never seen.
    Result<front_port_stats> readPort(uint8_t proto, uint16_t port) const;

    int denyMapFd() const { return deny_map_.get(); }
    int portMapFd() const { return port_map_.get(); }

private:
    UniqueFd deny_map_;
    UniqueFd port_map_;
};

// kAuto: native when the driver supports it, else generic (lo has no native XDP).
enum class XdpMode { kGeneric, kNative, kAuto };

// Owns the loaded front skeleton. Non-copyable; a failed load() leaves nothing loaded.
class FrontLoader {
public:
    // Loads front_filter with its maps pinned in <root>/front/ (reusing maps already pinned
    // there, so the deny list survives restarts; a fresh set is published whole, see
    // bpffs_publish.h). Fails on bpffs or load errors, and with the reason when the pinned
    // maps have another layout (never replaced: the deny list is the operator's).
    static Result<std::unique_ptr<FrontLoader>> load(
        const std::string& bpffs_root = std::string(kDefaultBpffsRoot));

    ~FrontLoader();
    FrontLoader(const FrontLoader&) = delete;
    FrontLoader& operator=(const FrontLoader&) = delete;

    // Attaches front_filter to interface `ifname` (in this thread's network namespace)
    // through a bpf_link pinned at <root>/front/link_<ifname>. When that pin exists and is
    // still attached, the link is switched to this program in place (no gap); otherwise a
    // new link is made. Fails naming the interface, mode and errno (EOPNOTSUPP: no native
    // XDP in this driver; EBUSY: another XDP program is attached without a link).
    Result<void> attach(const std::string& ifname, XdpMode mode);
    // Detaches from `ifname` and removes the link pin. ENOENT when not attached by us.
    Result<void> detach(const std::string& ifname);

    int programFd() const;
    FrontPins& pins() { return pins_; }
    const std::string& pinDirectory() const { return pin_dir_; }

private:
    FrontLoader(front* skel, FrontPins pins, std::string pin_dir);

    front* skel_;
    FrontPins pins_;
    std::string pin_dir_;
};

}  // namespace hotgate::dataplane

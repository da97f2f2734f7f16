#include "dataplane/front_loader.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "dataplane/bpffs_publish.h"
#include "dataplane/skeleton_ptr.h"
#include "front.skel.h"

namespace hotgate::dataplane {

namespace {

constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool isV4Mapped(const front_deny_key& key) {
    return key.prefixlen >= FRONT_V4_MAPPED_PREFIXLEN &&
           std::memcmp(key.addr, kV4MappedPrefix, sizeof(kV4MappedPrefix)) == 0;
}

// The maps of front.bpf.c, in the order FrontPins takes them.
constexpr std::array<MapSpec, 2> kMaps{{
    {"front_deny_map", BPF_MAP_TYPE_LPM_TRIE, sizeof(front_deny_key), sizeof(front_deny_value), FRONT_DENY_MAX,
     BPF_F_NO_PREALLOC},
    {"front_port_map", BPF_MAP_TYPE_LRU_PERCPU_HASH, sizeof(front_port_key), sizeof(front_port_stats),
     FRONT_PORTS_MAX},
}};

using FrontSkeleton = SkeletonPtr<front, front__destroy>;

// Opens the skeleton and loads front_filter with every map pinned (or reused) in `dir`.
Result<FrontSkeleton> loadSkeleton(const std::string& dir) {
    FrontSkeleton skel(front__open());
    if (!skel) return sysError(errno, "open BPF object front.bpf.o");
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, skel->obj) {
        std::string path = dir + "/" + bpf_map__name(map);
        if (int err = bpf_map__set_pin_path(map, path.c_str()); err != 0)
            return sysError(-err, "set pin path ", path);
    }
    if (int err = front__load(skel.get()); err != 0)
        return sysError(-err, "load front_filter with maps pinned in ", dir);
    return skel;
}

// bpffs refuses '.' in names; interface names may have one (VLANs: eth0.100).
std::string linkPinPath(const std::string& dir, std::string ifname) {
    std::replace(ifname.begin(), ifname.end(), '.', '-');
    std::replace(ifname.begin(), ifname.end(), '/', '-');
    return dir + "/link_" + ifname;
}

}  // namespace

std::span<const MapSpec> frontMapSpecs() { return kMaps; }

Result<front_deny_key> parsePrefix(std::string_view cidr) {
    std::string text(cidr);
    std::string addr_text = text;
    int length = -1;
    if (auto slash = text.find('/'); slash != std::string::npos) {
        addr_text = text.substr(0, slash);
        std::string_view len_text = std::string_view(text).substr(slash + 1);
        auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
        if (len_text.empty() || ec != std::errc() || end != len_text.data() + len_text.size() ||
            length < 0)
            return fail("bad prefix length in '", cidr, "'");
    }
    front_deny_key key{};
    int max_length = 0;
    int offset_bits = 0;
    in_addr v4{};
    in6_addr v6{};
    if (::inet_pton(AF_INET, addr_text.c_str(), &v4) == 1) {
        std::memcpy(key.addr, kV4MappedPrefix, sizeof(kV4MappedPrefix));
        std::memcpy(key.addr + 12, &v4, 4);
        max_length = 32;
        offset_bits = FRONT_V4_MAPPED_PREFIXLEN;
    } else if (::inet_pton(AF_INET6, addr_text.c_str(), &v6) == 1) {
        std::memcpy(key.addr, &v6, 16);
        max_length = 128;
    } else {
        return fail("'", cidr, "' is not an IPv4 or IPv6 address or prefix");
    }
    if (length < 0) length = max_length;
    if (length > max_length)
        return fail("prefix length ", length, " in '", cidr, "' is above ", max_length);
    key.prefixlen = static_cast<__u32>(offset_bits + length);
    // Refuse host bits: "10.0.0.1/8" is more likely a typo than a wish to deny 10.0.0.0/8.
    for (int bit = static_cast<int>(key.prefixlen); bit < 128; ++bit) {
        if (key.addr[bit / 8] & (0x80 >> (bit % 8)))
            return fail("'", cidr, "' has host bits set beyond /", length);
    }
    return key;
}

std::string formatPrefix(const front_deny_key& key) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (isV4Mapped(key)) {
        ::inet_ntop(AF_INET, key.addr + 12, buf, sizeof(buf));
        return std::string(buf) + "/" + std::to_string(key.prefixlen - FRONT_V4_MAPPED_PREFIXLEN);
    }
    ::inet_ntop(AF_INET6, key.addr, buf, sizeof(buf));
    return std::string(buf) + "/" + std::to_string(key.prefixlen);
}

// ---------------------------------------------------------------------------------------------
// FrontPins

FrontPins::FrontPins(UniqueFd deny_map, UniqueFd port_map)
    : deny_map_(std::move(deny_map)), port_map_(std::move(port_map)) {}

Result<FrontPins> FrontPins::open(const std::string& bpffs_root) {
    auto fds = openPinnedMaps(pinDir(bpffs_root, kFrontPinName), kMaps);
    if (!fds) return tl::unexpected(fds.error());
    return FrontPins(std::move((*fds)[0]), std::move((*fds)[1]));
}

Result<void> FrontPins::addDeny(const front_deny_key& key) {
    front_deny_value value{};
    if (bpf_map_update_elem(deny_map_.get(), &key, &value, BPF_ANY) != 0)
        return sysError(errno, "add ", formatPrefix(key), " to front_deny_map");
    return {};
}

Result<void> FrontPins::delDeny(const front_deny_key& key) {
    if (bpf_map_delete_elem(deny_map_.get(), &key) != 0)
        return sysError(errno, "remove ", formatPrefix(key), " from front_deny_map");
    return {};
}

Result<std::vector<DenyEntry>> FrontPins::listDeny() const {
    std::vector<DenyEntry> out;
    front_deny_key key{};
    front_deny_key next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(deny_map_.get(), prev, &next) == 0) {
        DenyEntry entry;
        entry.key = next;
        front_deny_value value{};
        if (bpf_map_lookup_elem(deny_map_.get(), &next, &value) == 0) {
            entry.hits = value.hits;
            out.push_back(entry);
        } else if (errno != ENOENT) {
            return sysError(errno, "read ", formatPrefix(next), " of front_deny_map");
        }
        key = next;
        prev = &key;
    }
    if (errno != ENOENT) return sysError(errno, "iterate front_deny_map");
    return out;
}

Result<front_port_stats> FrontPins::readPort(uint8_t proto, uint16_t port) const {
    front_port_key key{port, proto, 0};
    auto sum = sumPerCpu<front_port_stats>(
        port_map_.get(), &key, "read front_port_map[" + std::to_string(proto) + "/" + std::to_string(port) + "]");
    if (!sum && sum.error().errnum == ENOENT) return front_port_stats{};  // never seen
    return sum;
}

Result<std::vector<PortCounters>> FrontPins::readPorts() const {
    std::vector<PortCounters> out;
    front_port_key key{};
    front_port_key next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(port_map_.get(), prev, &next) == 0) {
        auto stats = readPort(next.proto, next.port);
        if (!stats) return tl::unexpected(stats.error());
        out.push_back(PortCounters{next.proto, next.port, *stats});
        key = next;
        prev = &key;
    }
    if (errno != ENOENT) return sysError(errno, "iterate front_port_map");
    std::sort(out.begin(), out.end(), [](const PortCounters& a, const PortCounters& b) {
        return a.proto != b.proto ? a.proto < b.proto : a.port < b.port;
    });
    return out;
}

// ---------------------------------------------------------------------------------------------
// FrontLoader

FrontLoader::FrontLoader(front* skel, FrontPins pins, std::string pin_dir)
    : skel_(skel), pins_(std::move(pins)), pin_dir_(std::move(pin_dir)) {}

FrontLoader::~FrontLoader() {
    // Pinned links keep front_filter attached for the next version; maps stay pinned.
    front__destroy(skel_);
}

int FrontLoader::programFd() const { return bpf_program__fd(skel_->progs.front_filter); }

Result<std::unique_ptr<FrontLoader>> FrontLoader::load(const std::string& bpffs_root) {
    if (auto root = ensureBpffsRoot(bpffs_root); !root) return tl::unexpected(root.error());
    auto lock = PinRootLock::acquire(bpffs_root);
    if (!lock) return tl::unexpected(lock.error());
    FrontSkeleton skel;
    const PinSetRecipe recipe{
        std::string(kFrontPinName),
        kMaps,
        [&skel](const std::string& dir) -> Result<void> {
            auto loaded = loadSkeleton(dir);
            if (!loaded) return tl::unexpected(loaded.error());
            skel = std::move(*loaded);
            return {};
        },
        // The deny list is the operator's, and pinned links may keep an earlier front_filter
        // attached: an incompatible front is never replaced behind anyone's back.
        [](const std::string&) { return true; },
    };
    auto published = publishPinSet(*lock, recipe);
    if (!published) return tl::unexpected(published.error());
    if (published->origin == PinSetOrigin::kExisting) {
        // Reuse the pinned maps, so the deny list survives restarts.
        auto loaded = loadSkeleton(published->dir);
        if (!loaded) return tl::unexpected(loaded.error());
        skel = std::move(*loaded);
    }
    auto deny = duplicateFd(bpf_map__fd(skel->maps.front_deny_map), "front_deny_map");
    if (!deny) return tl::unexpected(deny.error());
    auto port = duplicateFd(bpf_map__fd(skel->maps.front_port_map), "front_port_map");
    if (!port) return tl::unexpected(port.error());
    return std::unique_ptr<FrontLoader>(new FrontLoader(
        skel.release(), FrontPins(std::move(*deny), std::move(*port)), published->dir));
}

Result<void> FrontLoader::attach(const std::string& ifname, XdpMode mode) {
    if (mode == XdpMode::kAuto) {
        auto native = attach(ifname, XdpMode::kNative);
        if (native || native.error().errnum != EOPNOTSUPP) return native;
        return attach(ifname, XdpMode::kGeneric);
    }
    const char* mode_name = mode == XdpMode::kNative ? "native" : "generic";
    unsigned ifindex = ::if_nametoindex(ifname.c_str());
    if (ifindex == 0) return sysError(errno, "find interface ", ifname, " for front_filter");
    const std::string link_path = linkPinPath(pin_dir_, ifname);
    const int prog_fd = programFd();

    // An existing pinned link (an earlier version's): switch it to this program in place.
    if (UniqueFd old(bpf_obj_get(link_path.c_str())); old) {
        if (bpf_link_update(old.get(), prog_fd, nullptr) == 0) return {};
        int err = errno;
        if (err != ENOLINK && err != ENOENT)
            return sysError(err, "switch pinned XDP link ", link_path, " to front_filter");
        // The interface went away (ENOLINK): drop the dead link and make a new one.
        ::unlink(link_path.c_str());
    }

    LIBBPF_OPTS(bpf_link_create_opts, opts,
                .flags = mode == XdpMode::kNative ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
    UniqueFd link(bpf_link_create(prog_fd, static_cast<int>(ifindex), BPF_XDP, &opts));
    if (!link)
        return sysError(errno, "attach front_filter to ", ifname, " (ifindex ", ifindex, ", ",
                        mode_name, " XDP)");
    if (bpf_obj_pin(link.get(), link_path.c_str()) != 0)
        return sysError(errno, "pin XDP link of ", ifname, " at ", link_path);
    return {};
}

Result<void> FrontLoader::detach(const std::string& ifname) {
    const std::string link_path = linkPinPath(pin_dir_, ifname);
    UniqueFd link(bpf_obj_get(link_path.c_str()));
    if (!link) return sysError(errno, "open pinned XDP link ", link_path);
    int err = bpf_link_detach(link.get());
    if (err != 0 && errno != ENOLINK) return sysError(errno, "detach front_filter from ", ifname);
    if (::unlink(link_path.c_str()) != 0) return sysError(errno, "unpin ", link_path);
    return {};
}

}  // namespace hotgate::dataplane

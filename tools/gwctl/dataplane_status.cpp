#include "dataplane_status.h"

#include <netinet/in.h>

#include <cstdio>

#include "dataplane/capability_probe.h"
#include "dataplane/front_loader.h"
#include "dataplane/steer_loader.h"

namespace gwctl {

namespace {

using namespace hotgate::dataplane;

std::string percent(uint32_t bp) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%u.%02u%%", bp / 100, bp % 100);
    return buf;
}

std::string counters(const steer_stats& s) {
    return "selected " + std::to_string(s.count[STEER_CTR_SELECTED]) + ", migrated " +
           std::to_string(s.count[STEER_CTR_MIGRATED]) + ", canary " +
           std::to_string(s.count[STEER_CTR_CANARY]) + ", fallback " +
           std::to_string(s.count[STEER_CTR_FALLBACK]) + ", other segments " +
           std::to_string(s.count[STEER_CTR_NOT_SYN]);
}

bool anyCount(const steer_stats& s) {
    for (auto c : s.count)
        if (c) return true;
    return false;
}

void printGroup(const GroupStatus& g, std::ostream& out) {
    const auto& c = g.control;
    out << "listener " << g.listener << ": active slot " << unsigned(c.active_slot);
    if (c.canary_weight_bp > 0)
        out << ", canary slot " << unsigned(c.canary_slot) << " at " << percent(c.canary_weight_bp);
    else
        out << ", no canary";
    out << ", generation " << c.generation << "\n";
    for (const auto& s : g.slots) {
        const bool in_use = s.registered.owner_pid != 0 || s.live_sockets > 0 || anyCount(s.stats) ||
                            s.slot == c.active_slot ||
                            (c.canary_weight_bp > 0 && s.slot == c.canary_slot);
        if (!in_use) continue;
        out << "  slot " << s.slot;
        if (s.slot == c.active_slot) out << " [active]";
        if (c.canary_weight_bp > 0 && s.slot == c.canary_slot) out << " [canary]";
        out << ": " << s.live_sockets << " live sockets";
        if (s.registered.owner_pid != 0)
            out << " (" << s.registered.socket_count << " registered by pid " << s.registered.owner_pid
                << (s.owner_alive ? "" : ", exited") << ")";
        out << "; " << counters(s.stats) << "\n";
        if (s.slot == c.active_slot && s.live_sockets == 0)
            out << "  warning: the active slot has no live socket; new connections fall back to "
                   "the kernel's pick\n";
    }
    if (anyCount(g.invalid_slot)) out << "  invalid slot: " << counters(g.invalid_slot) << "\n";
}

void printFront(const std::string& bpffs_root, std::ostream& out) {
    auto pins = FrontPins::open(bpffs_root);
    if (!pins) {
        // No pins at all is the common case: the front is off unless dataplane.xdp_interfaces names some.
        if (pins.error().errnum == ENOENT)
            out << "xdp front: not configured (nothing pinned under " << bpffs_root << ")\n";
        else
            out << "xdp front: unreadable (" << pins.error().what() << ")\n";
        return;
    }
    auto deny = pins->listDeny();
    auto ports = pins->readPorts();
    out << "xdp front: ";
    if (deny) out << deny->size() << " deny prefixes";
    else out << "deny list unreadable (" << deny.error().what() << ")";
    out << "\n";
    if (!ports) {
        out << "  ports unreadable (" << ports.error().what() << ")\n";
        return;
    }
    for (const auto& p : *ports) {
        out << "  " << (p.proto == IPPROTO_TCP ? "tcp" : p.proto == IPPROTO_UDP ? "udp" : "ip")
            << "/" << p.port << ": packets " << p.stats.packets << ", syns " << p.stats.syns
            << ", denied " << p.stats.denied << "\n";
    }
}

nlohmann::json countersJson(const steer_stats& s) {
    return {{"selected", s.count[STEER_CTR_SELECTED]}, {"migrated", s.count[STEER_CTR_MIGRATED]},
            {"canary", s.count[STEER_CTR_CANARY]},     {"fallback", s.count[STEER_CTR_FALLBACK]},
            {"other_segments", s.count[STEER_CTR_NOT_SYN]}};
}

nlohmann::json groupJson(const GroupStatus& g) {
    const auto& c = g.control;
    nlohmann::json slots = nlohmann::json::array();
    for (const auto& s : g.slots)
        slots.push_back({{"slot", s.slot},
                         {"live_sockets", s.live_sockets},
                         {"registered_sockets", s.registered.socket_count},
                         {"owner_pid", s.registered.owner_pid},
                         {"owner_alive", s.owner_alive},
                         {"counters", countersJson(s.stats)}});
    return {{"listener", g.listener},
            {"active_slot", c.active_slot},
            {"canary_slot", c.canary_slot},
            {"canary_weight_bp", c.canary_weight_bp},
            {"generation", c.generation},
            {"slots", std::move(slots)},
            {"invalid_slot", countersJson(g.invalid_slot)}};
}

nlohmann::json frontJson(const std::string& bpffs_root) {
    auto pins = FrontPins::open(bpffs_root);
    if (!pins && pins.error().errnum == ENOENT) return {{"configured", false}};
    if (!pins) return {{"error", pins.error().what()}};
    nlohmann::json front{{"configured", true}};
    if (auto deny = pins->listDeny())
        front["deny_prefixes"] = deny->size();
    else
        front["deny_error"] = deny.error().what();
    if (auto ports = pins->readPorts()) {
        front["ports"] = nlohmann::json::array();
        for (const auto& p : *ports)
            front["ports"].push_back({{"protocol", p.proto == IPPROTO_TCP ? "tcp" : p.proto == IPPROTO_UDP ? "udp" : "ip"},
                                      {"port", p.port},
                                      {"packets", p.stats.packets},
                                      {"syns", p.stats.syns},
                                      {"denied", p.stats.denied}});
    } else {
        front["ports_error"] = ports.error().what();
    }
    return front;
}

}  // namespace

nlohmann::json dataplaneStatusJson(const std::string& bpffs_root) {
    nlohmann::json out{{"bpffs_root", bpffs_root}, {"listeners", nlohmann::json::array()}};
    auto listeners = SteerPins::listListeners(bpffs_root);
    if (!listeners) {
        out["error"] = listeners.error().what();
    } else if (listeners->empty()) {
        out["steering"] = false;
        if (auto support = probeSteeringSupport(); !support.usable) out["steering_unusable"] = support.reason;
    } else {
        out["steering"] = true;
        for (const auto& name : *listeners) {
            auto pins = SteerPins::open(bpffs_root, name);
            hotgate::Result<GroupStatus> status =
                pins ? pins->status() : hotgate::Result<GroupStatus>(tl::unexpected(pins.error()));
            out["listeners"].push_back(status ? groupJson(*status)
                                              : nlohmann::json{{"listener", name}, {"error", status.error().what()}});
        }
    }
    out["xdp_front"] = frontJson(bpffs_root);
    return out;
}

void printDataplaneStatus(const std::string& bpffs_root, std::ostream& out) {
    auto listeners = SteerPins::listListeners(bpffs_root);
    if (!listeners) {
        out << "dataplane: cannot read " << bpffs_root << " (" << listeners.error().what() << ")\n";
    } else if (listeners->empty()) {
        auto support = probeSteeringSupport();
        out << "dataplane: no BPF steering state under " << bpffs_root
            << " (listener-fd-takeover mode, or no gateway has started)";
        if (!support.usable) out << "; " << support.reason;
        out << "\n";
    } else {
        out << "dataplane: BPF steering (state pinned under " << bpffs_root << ")\n";
        for (const auto& name : *listeners) {
            auto pins = SteerPins::open(bpffs_root, name);
            hotgate::Result<GroupStatus> status =
                pins ? pins->status() : hotgate::Result<GroupStatus>(tl::unexpected(pins.error()));
            if (!status) {
                out << "listener " << name << ": unreadable (" << status.error().what() << ")\n";
                continue;
            }
            printGroup(*status, out);
        }
    }
    printFront(bpffs_root, out);
}

}  // namespace gwctl

// gwctl cutover | canary | deny | dataplane: drive the BPF data plane through its pinned maps.
// cutover and canary write the listener group's control entry (one map update); deny edits
// the XDP front's deny list; dataplane prints what `gwctl status` shows of the data plane, and
// with --prune first removes the pin groups nobody serves. Without --listener (--bpffs), they
// act on the listeners (pin root) of the hotgate answering on the control socket.
#include <charconv>
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "outcome.h"
#include "dataplane/front_loader.h"
#include "dataplane/steer_loader.h"
#include "dataplane_status.h"
#include "health/gateway_pins.h"
#include "health/health_log.h"
#include "running_gateway.h"

namespace gwctl {
namespace {

using namespace hotgate::dataplane;
using hotgate::Result;

struct SteerOptions {
    std::string listener;  // empty: the running gateway's listeners, else the only pinned group
    uint32_t slot = 0;
    std::string weight;
    bool force = false;
};

// Parses a canary weight: "5%", "0.5%", "12.25%" or "250bp" (basis points); "5" means 5%.
Result<uint32_t> parseWeight(const std::string& text) {
    std::string body = text;
    bool basis_points = false;
    if (body.size() > 2 && body.compare(body.size() - 2, 2, "bp") == 0) {
        basis_points = true;
        body.resize(body.size() - 2);
    } else if (!body.empty() && body.back() == '%') {
        body.pop_back();
    }
    const auto bad = [&] {
        return hotgate::fail("bad --weight '", text, "': use a percentage like 5% or 0.5%, or 250bp");
    };
    if (body.empty()) return bad();
    uint32_t whole = 0, frac = 0, frac_digits = 0;
    const char* p = body.data();
    const char* end = body.data() + body.size();
    auto [after_whole, ec] = std::from_chars(p, end, whole);
    if (ec != std::errc() || after_whole == p) return bad();
    p = after_whole;
    if (p != end) {
        if (basis_points || *p != '.') return bad();
        ++p;
        for (; p != end; ++p) {
            if (*p < '0' || *p > '9' || frac_digits == 2) return bad();  // 0.01% = 1bp at most
            frac = frac * 10 + static_cast<uint32_t>(*p - '0');
            ++frac_digits;
        }
        if (frac_digits == 0) return bad();
        if (frac_digits == 1) frac *= 10;
    }
    uint64_t bp = basis_points ? whole : uint64_t(whole) * 100 + frac;
    if (bp > STEER_WEIGHT_MAX) return hotgate::fail("--weight '", text, "' is above 100%");
    return static_cast<uint32_t>(bp);
}

// Opens one group, logging its cutovers to the health profile under the same root.
Result<SteerPins> openGroup(const std::string& bpffs_root, const std::string& listener) {
    auto pins = SteerPins::open(bpffs_root, listener);
    if (!pins && pins.error().errnum == ENOENT)
        return hotgate::fail("no listener '", listener, "' pinned under ", bpffs_root,
                             " (is hotgate running with BPF steering?)");
    if (pins) pins->onActiveSlotChange(hotgate::health::cutoverEventLogger(bpffs_root));
    return pins;
}

// The groups a steering command writes: the named one; else every listener of the hotgate
// answering on the control socket; else, when none answers, the only group pinned.
Result<std::vector<SteerPins>> openTargets(const GlobalOptions& global, const std::string& listener) {
    const auto running = askRunningGateway(global);
    const std::string root = bpffsRootFor(global, running);
    std::vector<SteerPins> targets;
    if (!listener.empty()) {
        auto pins = openGroup(root, listener);
        if (!pins) return tl::unexpected(pins.error());
        targets.push_back(std::move(*pins));
        return targets;
    }
    if (running && !running->listeners.empty()) {
        if (running->mode != "bpf")
            return hotgate::fail("the hotgate on ", running->control_socket, " runs in ", running->mode, " mode",
                                 running->mode_reason.empty() ? "" : " (" + running->mode_reason + ")",
                                 ": it has no listener group to steer");
        for (const auto& name : running->listeners) {
            auto pins = openGroup(root, name);
            if (!pins) return tl::unexpected(pins.error());
            targets.push_back(std::move(*pins));
        }
        return targets;
    }
    auto names = SteerPins::listListeners(root);
    if (!names) return tl::unexpected(names.error());
    if (names->empty())
        return hotgate::fail("no listener pinned under ", root, " (is hotgate running with BPF steering?)");
    if (names->size() > 1) {
        std::string all;
        for (const auto& n : *names) all += (all.empty() ? "" : ", ") + n;
        return hotgate::fail("several listeners pinned (", all, "): pass --listener (no hotgate answers on ",
                             global.control_socket, " to say which are its own; gwctl dataplane --prune removes ",
                             "the groups nobody serves)");
    }
    auto pins = openGroup(root, names->front());
    if (!pins) return tl::unexpected(pins.error());
    targets.push_back(std::move(*pins));
    return targets;
}

// Unless `force`, every target must have a live socket in `slot` before any is written, so a
// command over several listeners is applied to all of them or to none.
void requireServedEverywhere(const char* verb, const std::vector<SteerPins>& targets, uint32_t slot, bool force,
                             SteerWrite write) {
    if (force) return;
    for (const auto& pins : targets)
        if (auto served = pins.requireLiveSocket(slot, write); !served) failWith(verb, served.error().what());
}

void runCutover(const GlobalOptions& global, const SteerOptions& options) {
    auto targets = openTargets(global, options.listener);
    if (!targets) failWith("cutover", targets.error().what());
    requireServedEverywhere("cutover", *targets, options.slot, options.force, SteerWrite::kCutover);
    for (auto& pins : *targets) {
        auto written = pins.cutover(options.slot, options.force);
        if (!written) failWith("cutover", written.error().what());
        std::cout << "listener " << pins.listener() << ": new connections go to slot "
                  << unsigned(written->active_slot) << " (generation " << written->generation << ")\n";
    }
}

void runCanary(const GlobalOptions& global, const SteerOptions& options) {
    auto weight = parseWeight(options.weight);
    if (!weight) failWith("canary", weight.error().what());
    auto targets = openTargets(global, options.listener);
    if (!targets) failWith("canary", targets.error().what());
    if (*weight > 0) requireServedEverywhere("canary", *targets, options.slot, options.force, SteerWrite::kCanary);
    for (auto& pins : *targets) {
        auto written = pins.setCanary(options.slot, *weight, options.force);
        if (!written) failWith("canary", written.error().what());
        std::cout << "listener " << pins.listener() << ": ";
        if (written->canary_weight_bp == 0)
            std::cout << "canary off, all new connections go to slot " << unsigned(written->active_slot);
        else
            std::cout << written->canary_weight_bp / 100 << "." << (written->canary_weight_bp % 100 < 10 ? "0" : "")
                      << written->canary_weight_bp % 100 << "% of new flows go to slot "
                      << unsigned(written->canary_slot) << ", the rest to slot " << unsigned(written->active_slot);
        std::cout << " (generation " << written->generation << ")\n";
    }
}

// gwctl dataplane --prune: removes the pin groups nobody serves; false when one could not be.
bool runPrune(const std::string& bpffs_root, std::ostream& out) {
    auto pruned = hotgate::health::pruneGatewayPins(bpffs_root);
    if (!pruned) failWith("dataplane --prune", pruned.error().what());
    bool ok = true;
    std::size_t removed = 0;
    for (const auto& group : *pruned) {
        if (group.verdict == PruneVerdict::kRemoved) {
            ++removed;
            out << "prune: removed " << group.what << " " << group.dir << " (no live socket, no live pid)\n";
        } else if (group.verdict == PruneVerdict::kFailed) {
            ok = false;
            out << "prune: could not remove " << group.what << " " << group.dir << ": " << group.error << "\n";
        }
    }
    if (removed == 0 && ok) out << "prune: nothing to remove under " << bpffs_root << "\n";
    return ok;
}

FrontPins openFront(const GlobalOptions& global, const char* verb) {
    const std::string root = bpffsRootFor(global, askRunningGateway(global));
    auto pins = FrontPins::open(root);
    if (!pins) {
        if (pins.error().errnum == ENOENT)
            failWith(verb, "no XDP front pinned under " + root + " (is hotgate running with the XDP front enabled?)");
        failWith(verb, pins.error().what());
    }
    return std::move(*pins);
}

void addSteerOptions(CLI::App* cmd, SteerOptions& options, bool slot_required = true) {
    cmd->add_option("--listener,-l", options.listener,
                    "listener group (default: every listener of the running hotgate, else the only one pinned)");
    cmd->add_option("--to", options.slot, "version slot")
        ->required(slot_required)
        ->check(CLI::Range(0u, static_cast<unsigned>(STEER_SLOTS - 1)));
    cmd->add_flag("--force", options.force, "write even if the slot has no live socket");
}

}  // namespace

void addDataplaneCommands(CLI::App& app, GlobalOptions& global) {
    auto cutover_options = std::make_shared<SteerOptions>();
    auto* cutover = app.add_subcommand(
        "cutover", "send new connections to the ready new version (through the running hotgate); with --to, "
                   "write one listener's control entry directly (one map write)");
    addSteerOptions(cutover, *cutover_options, /*slot_required=*/false);
    auto verify_options = std::make_shared<VerifyOptions>();
    verify_options->samples = 0;
    cutover->add_option("--verify", verify_options->samples,
                        "first compare N mirrored requests (gwctl verify); a mismatch refuses the cutover "
                        "unless --force")
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}));
    addVerifyOptions(*cutover, *verify_options);
    cutover->get_option("--force")->description(
        "with --to: write even if the slot has no live socket; with --verify: cut over despite a mismatch");
    cutover->callback([&global, cutover_options, verify_options, cutover] {
        if (cutover->count("--to") == 0) {
            if (verify_options->samples > 0) {
                const int verified = runVerify(global, *verify_options, "cutover");
                if (verified != 0 && !cutover_options->force) {
                    std::cerr << "gwctl cutover: refused: the new version did not verify (--force cuts over anyway)\n";
                    exitWith(ExitStatus::Refused);
                }
                if (verified != 0) std::cerr << "gwctl cutover: cutting over although it did not verify (--force)\n";
            }
            if (runControlCutover(global) != 0) exitWith(ExitStatus::Refused);
            return;
        }
        if (verify_options->samples > 0 || !verify_options->routes.empty())
            failWith("cutover", "--verify needs the running version: leave out --to");
        runCutover(global, *cutover_options);
    });

    auto canary_options = std::make_shared<SteerOptions>();
    auto* canary = app.add_subcommand(
        "canary", "send a share of new flows (by 4-tuple hash) to a version slot; --weight 0 ends it");
    addSteerOptions(canary, *canary_options);
    canary->add_option("--weight,-w", canary_options->weight, "share of new flows: 5%, 0.5% or 250bp")
        ->required();
    canary->callback([&global, canary_options] { runCanary(global, *canary_options); });

    auto* deny = app.add_subcommand("deny", "edit the XDP front's deny list of source prefixes");
    deny->require_subcommand(1);
    auto cidr = std::make_shared<std::string>();
    auto* add = deny->add_subcommand("add", "drop packets from CIDR before the stack");
    add->add_option("cidr", *cidr, "10.0.0.0/8, 2001:db8::/32 or one address")->required();
    add->callback([&global, cidr] {
        auto key = parsePrefix(*cidr);
        if (!key) failWith("deny add", key.error().what());
        auto pins = openFront(global, "deny add");
        if (auto r = pins.addDeny(*key); !r) failWith("deny add", r.error().what());
        std::cout << "denied " << formatPrefix(*key) << "\n";
    });
    auto* del = deny->add_subcommand("del", "remove CIDR from the deny list");
    del->add_option("cidr", *cidr, "a prefix previously added")->required();
    del->callback([&global, cidr] {
        auto key = parsePrefix(*cidr);
        if (!key) failWith("deny del", key.error().what());
        auto pins = openFront(global, "deny del");
        if (auto r = pins.delDeny(*key); !r) {
            if (r.error().errnum == ENOENT) failWith("deny del", formatPrefix(*key) + " is not in the deny list");
            failWith("deny del", r.error().what());
        }
        std::cout << "removed " << formatPrefix(*key) << "\n";
    });
    auto* list = deny->add_subcommand("list", "print the deny list with hit counts");
    list->callback([&global] {
        auto pins = openFront(global, "deny list");
        auto entries = pins.listDeny();
        if (!entries) failWith("deny list", entries.error().what());
        if (global.json()) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& e : *entries) list.push_back({{"prefix", formatPrefix(e.key)}, {"hits", e.hits}});
            std::cout << list.dump(2) << "\n";
            return;
        }
        for (const auto& e : *entries) std::cout << formatPrefix(e.key) << "\t" << e.hits << " hits\n";
    });

    auto* dataplane = app.add_subcommand(
        "dataplane", "show BPF steering (slots, sockets, counters, control entry) and the XDP front");
    auto prune = std::make_shared<bool>(false);
    dataplane->add_flag("--prune", *prune,
                        "first remove the pin groups nobody serves any more (no live socket, every registered "
                        "pid gone)");
    dataplane->callback([&global, prune] {
        const std::string root = bpffsRootFor(global, askRunningGateway(global));
        const bool pruned = !*prune || runPrune(root, global.json() ? std::cerr : std::cout);
        if (global.json())
            std::cout << dataplaneStatusJson(root).dump(2) << "\n";
        else
            printDataplaneStatus(root, std::cout);
        if (!pruned) exitWith(ExitStatus::Refused);
    });
}

}  // namespace gwctl

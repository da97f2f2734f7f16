// UpgradeController::verify: `gwctl verify` (docs/verification.md) wired to this version and
// its ready successor. The shadow paths are loopback TCP connections made here: one end is
// served by this version's workers, or sent over the successor's link (ShadowConnection).
#include <algorithm>

#include "control/upgrade_controller.h"
#include "proxy/gateway.h"
#include "telemetry/span.h"

namespace hotgate::control {
namespace {

std::string versionLabel(const std::string& version, int pid) {
    return version + " (pid " + std::to_string(pid) + ")";
}

// Ok only when every requested sample was compared, none differed, and every route's latency
// is within tolerance.
Reply verdict(const shadow::ShadowReport& report) {
    nlohmann::json details{{"report", report.toJson()}};
    const auto samples = report.samples();
    const auto mismatches = report.mismatches();
    if (mismatches > 0)
        return Reply::failure(std::to_string(mismatches) + " of " + std::to_string(samples) + " samples mismatched",
                              std::move(details));
    if (const auto slow = report.slowRoutes(); slow > 0)
        return Reply::failure("latency out of tolerance on " + std::to_string(slow) + " route(s)", std::move(details));
    if (samples < report.requested)
        return Reply::failure(report.note.empty() ? "too few samples" : report.note, std::move(details));
    return Reply::success(std::to_string(samples) + " samples, none mismatched", std::move(details));
}

}  // namespace

Reply UpgradeController::verify(const VerifyRequest& request) {
    const auto config = gateway_.context().config();
    const auto tolerance = shadow::Tolerance::fromConfig(config->upgrade.verify);
    shadow::ShadowPath running(versionLabel(gateway_.context().version(), ::getpid()), [this]() -> Result<UniqueFd> {
        auto pair = shadow::loopbackPair();
        if (!pair) return tl::unexpected(pair.error());
        gateway_.serveShadow(std::move(pair->server));
        return std::move(pair->client);
    });
    if (request.replay) {
        auto report = verifier_.replay(tolerance, std::move(running));
        if (!report) return Reply::failure(report.error().message);
        return verdict(*report);
    }
    for (const auto& name : request.routes) {
        const bool known = std::any_of(config->routes.begin(), config->routes.end(),
                                       [&](const RouteConfig& route) { return route.name == name; });
        if (!known) {
            std::string names;
            for (const auto& route : config->routes) names += (names.empty() ? "" : ", ") + route.name;
            return Reply::failure("Verify: no route named '" + name + "' (routes: " + names + ")");
        }
    }
    const auto upgrade = machine_.snapshot();
    if (upgrade.phase != UpgradePhase::Ready || !upgrade.successor)
        return Reply::failure("no new version is ready (upgrade state: " +
                              std::string(upgradeStateName(wireState(upgrade.phase))) +
                              "): gwctl verify runs between gwctl upgrade and gwctl cutover; after a rollback, "
                              "gwctl verify --replay");
    if (!upgrade.successor->shadow_paths)
        return Reply::failure("the ready version " + upgrade.successor->version +
                              " is older than gwctl verify: it serves no shadow paths");
    std::shared_ptr<PeerLink> link;
    {
        std::lock_guard lock(successor_link_mutex_);
        if (successor_link_pid_ == upgrade.successor->pid) link = successor_link_.lock();
    }
    if (!link) return Reply::failure("the ready version's link is gone");
    const int pid = upgrade.successor->pid;
    shadow::ShadowPath other(versionLabel(upgrade.successor->version, pid), [link, pid]() -> Result<UniqueFd> {
        auto pair = shadow::loopbackPair();
        if (!pair) return tl::unexpected(pair.error());
        const int server = pair->server.get();
        if (auto sent = link->send(MessageType::ShadowConnection, nlohmann::json::object(), std::span<const int>(&server, 1));
            !sent)
            return fail("sending a shadow path to pid ", pid, ": ", sent.error().message);
        return std::move(pair->client);  // the server end closes here: the successor holds its own
    });
    const shadow::VerifyPlan plan{request.samples, request.routes, request.timeout, tolerance};
    const auto started = telemetry::unixNanosNow();
    const auto report = verifier_.compare(plan, std::move(running), std::move(other));
    Reply reply = verdict(report);
    trace_.shadowVerified(started, report.samples(), report.mismatches(), reply.ok ? std::string() : reply.message);
    return reply;
}

}  // namespace hotgate::control

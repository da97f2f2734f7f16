#include "control/config_engine.h"


#include <cstdio>
#include <sstream>

#include "config/config_loader.h"
#include "observability/logging.h"
#include "proxy/gateway.h"
#include "tls/tls_listener.h"

namespace hotgate::control {
namespace {

using namespace std::chrono_literals;
using telemetry::StatusCode;

// How often the engine samples route stats: the granularity of "the window before" and how
// soon a bad change is seen (and so how long its error burst can last at most beyond the
// first min_requests answers).
constexpr auto kTick = 50ms;

nlohmann::json okReply(const std::string& message) {
    return {{"ok", true}, {"message", message}};
}
nlohmann::json errorReply(const std::string& message) {
    return {{"ok", false}, {"message", message}};
}

std::int64_t unixMillis(std::chrono::system_clock::time_point at) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

std::string percent(double ratio) {
    std::ostringstream out;
    out.precision(3);
    out << ratio * 100 << "%";
    return out.str();
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

nlohmann::json changesJson(const ConfigDiff& diff) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& change : diff.changes) out.push_back(change.toJson());
    return out;
}

}  // namespace

std::vector<std::string> precheckConfig(const Config& config) {
    // Every certificate must load and check out (key matches, chain, validity), as at start.
    std::vector<std::string> problems;
    for (const auto& problem : tls::certificateProblems(config)) problems.push_back(config.source_path + ": " + problem);
    return problems;
}

ConfigEngine::ConfigEngine(Gateway& gateway, UpgradeToConfig upgrade, telemetry::SpanSink* spans)
    : gateway_(gateway), upgrade_(std::move(upgrade)), tracer_(spans) {
    entries_.push_back({gateway_.context().config(), std::chrono::system_clock::now(), "start", "serving"});
    monitor_ = std::thread([this] { monitorLoop(); });
}

ConfigEngine::~ConfigEngine() {
    stop();
}

void ConfigEngine::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
        endVerifyTrace("unknown: this version stopped during the verification window", StatusCode::Error);
    }
    verdict_changed_.notify_all();
    if (monitor_.joinable()) monitor_.join();
}

nlohmann::json ConfigEngine::apply(const std::string& path, const std::string& origin, bool wait) {
    std::unique_lock apply_lock(apply_mutex_);
    const auto began = std::chrono::steady_clock::now();
    auto& metrics = gateway_.metrics();
    auto trace = std::make_shared<telemetry::StagedTrace>(tracer_, "config-apply");
    trace->root().setAttribute("origin", origin);
    trace->root().setAttribute("path", path);
    auto& validate = trace->stage("config-apply:validate");
    // The reply, and the trace ended with it: Ok when the apply went through.
    auto answer = [&trace](nlohmann::json reply) {
        const bool ok = reply.value("ok", false);
        trace->finish(ok ? StatusCode::Ok : StatusCode::Error, reply.value("message", std::string()));
        return reply;
    };
    auto loaded = loadConfigFile(path);
    if (!loaded) {
        metrics.recordConfigApply("rejected");
        auto reply = errorReply("config rejected (" + std::to_string(loaded.error().size()) +
                                " problem(s)); the running config is unchanged");
        reply["problems"] = nlohmann::json::array();
        for (const auto& problem : loaded.error()) reply["problems"].push_back(problem.format());
        log::warn("config apply (", origin, ") of ", path, " rejected: ", loaded.error().size(), " problem(s)");
        validate.setAttribute("problems", static_cast<std::uint64_t>(loaded.error().size()));
        validate.setAttribute("first_problem", loaded.error().front().format());
        return answer(reply);
    }
    const ConfigSnapshot next = *loaded;
    if (auto problems = precheckConfig(*next); !problems.empty()) {
        metrics.recordConfigApply("rejected");
        auto reply = errorReply("config rejected by the pre-check (" + std::to_string(problems.size()) +
                                " problem(s)); the running config is unchanged");
        reply["problems"] = problems;
        log::warn("config apply (", origin, ") of ", path, " failed the pre-check: ", problems.front());
        validate.setAttribute("problems", static_cast<std::uint64_t>(problems.size()));
        validate.setAttribute("first_problem", problems.front());
        return answer(reply);
    }
    validate.setAttribute("problems", 0);
    const ConfigSnapshot running = gateway_.context().config();
    trace->root().setAttribute("config_hash", next->hash);
    trace->root().setAttribute("previous_hash", running->hash);
    auto& diffing = trace->stage("config-apply:diff");
    const ConfigDiff diff = diffConfigs(*running, *next);
    nlohmann::json reply = okReply("");
    reply["hash"] = next->hash;
    reply["previous_hash"] = running->hash;
    reply["changes"] = changesJson(diff);
    diffing.setAttribute("changes", static_cast<std::uint64_t>(diff.changes.size()));
    diffing.setAttribute("routes", joined(diff.affected_routes));
    if (diff.empty()) {
        reply["message"] = "no change: " + path + " means the same as the running config (hash " + running->hash + ")";
        reply["applies"] = "none";
        diffing.setAttribute("applies", "none");
        return answer(reply);
    }

    if (diff.needsNewVersion()) {
        // New sockets or workers: only a new process can have them. The same binary with the
        // new config, through the hot upgrade path (the validation above came first).
        reply["applies"] = "new_version";
        diffing.setAttribute("applies", "new_version");
        trace->stage("config-apply:swap").setAttribute("applies", "new_version");
        if (gateway_.dataplane().mode != DataplaneMode::Bpf) {
            // A takeover-mode successor inherits the listening sockets by listener name: it
            // cannot get sockets on other addresses that way.
            for (const auto& change : diff.changes)
                if (change.needs_new_version && change.section == schema::ConfigSection::Listeners) {
                    metrics.recordConfigApply("rejected");
                    auto refused = errorReply("'" + change.format() +
                                              "' needs new listening sockets, which a new "
                                              "version gets only in BPF steering mode (this one runs in takeover "
                                              "mode: " +
                                              gateway_.dataplane().reason + "); restart hotgate instead");
                    refused["changes"] = reply["changes"];
                    return answer(refused);
                }
        }
        if (!upgrade_) {
            metrics.recordConfigApply("failed");
            return answer(
                errorReply("this change needs a new version (new sockets or workers) and this process cannot "
                           "start one; use gwctl upgrade --config " +
                           path));
        }
        log::info("config apply (", origin, ") of ", path, " needs a new version: starting it");
        apply_lock.unlock();
        auto upgraded = upgrade_(path);
        if (!upgraded) {
            metrics.recordConfigApply("failed");
            log::warn("config apply: upgrade to ", next->hash, " failed: ", upgraded.error().message);
            auto failed =
                errorReply("the change needs a new version, and starting it failed: " + upgraded.error().message +
                           "; the running version serves on, unchanged");
            failed["changes"] = reply["changes"];
            return answer(failed);
        }
        metrics.recordConfigApply("upgraded");
        reply["message"] = "applied through a new version: " + *upgraded;
        return answer(reply);
    }

    diffing.setAttribute("applies", "in_place");
    auto& swap = trace->stage("config-apply:swap");

    std::uint64_t verification_id = 0;
    {
        std::lock_guard lock(mutex_);
        // A verification still running judged the snapshot being replaced: it ends here.
        if (verifying_) {
            verdicts_[verifying_->id] = "superseded by " + next->hash + " before its window ended";
            endVerifyTrace(verdicts_[verifying_->id], StatusCode::Ok);
            verifying_.reset();
        }
        Verification v;
        v.id = verification_id = next_verification_++;
        v.routes = diff.affected_routes;
        v.bounds = next->config_engine;
        v.before = windowBefore(v.bounds.verification_window, v.routes);
        v.at_start = sum(gateway_.context().route_stats.sampleAll(), v.routes);
        if (auto opened = gateway_.openAccessLogs(*next); !opened) {
            metrics.recordConfigApply("rejected");
            log::warn("config apply (", origin, ") of ", path, " refused: ", opened.error().message);
            auto refused =
                errorReply("config rejected: " + opened.error().message + "; the running config is unchanged");
            refused["changes"] = reply["changes"];
            return answer(refused);
        }
        if (auto tls = gateway_.applyTlsConfig(*next); !tls) {
            metrics.recordConfigApply("rejected");
            log::warn("config apply (", origin, ") of ", path, " refused: ", tls.error().message);
            auto refused = errorReply("config rejected: " + tls.error().message + "; the running config is unchanged");
            refused["changes"] = reply["changes"];
            return answer(refused);
        }
        gateway_.publishConfig(next);
        v.started = std::chrono::steady_clock::now();
        for (auto& entry : entries_)
            if (entry.state == "serving") entry.state = "previous";
        entries_.push_back({next, std::chrono::system_clock::now(), origin, "serving"});
        trimHistory();
        const auto apply_us =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began).count();
        swap.setAttribute("applies", "in_place");
        swap.setAttribute("apply_us", static_cast<std::int64_t>(apply_us));
        auto& verify = trace->stage("config-apply:verify");
        verify.setAttribute("window_ms", static_cast<std::int64_t>(v.bounds.verification_window.count()));
        verify.setAttribute("routes", joined(v.routes));
        v.trace = trace;
        verifying_ = std::move(v);
    }
    verdict_changed_.notify_all();
    const auto apply_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began).count();
    metrics.recordConfigApply("applied");
    log::info("config applied (", origin, "): ", running->hash, " -> ", next->hash, " from ", path, ", ",
              diff.changes.size(), " change(s), verifying routes [", joined(diff.affected_routes), "] for ",
              next->config_engine.verification_window.count(), "ms");
    reply["applies"] = "in_place";
    reply["verification"] = verification_id;
    reply["apply_us"] = apply_us;
    reply["message"] = "applied " + next->hash + " (was " + running->hash + "), " +
                       std::to_string(diff.changes.size()) + " change(s) in place; verifying for " +
                       std::to_string(next->config_engine.verification_window.count()) + "ms";
    if (!wait) return reply;

    apply_lock.unlock();  // a rollback must be able to run while we wait
    std::unique_lock lock(mutex_);
    const auto limit = next->config_engine.verification_window + 10s;
    verdict_changed_.wait_for(lock, limit, [&] { return stopping_ || verdicts_.count(verification_id); });
    const auto found = verdicts_.find(verification_id);
    reply["verdict"] = found == verdicts_.end() ? std::string("unknown (no verdict in time)") : found->second;
    reply["message"] = reply["message"].get<std::string>() + "; " + reply["verdict"].get<std::string>();
    if (found != verdicts_.end() && found->second.rfind("rolled back", 0) == 0) reply["ok"] = false;
    return reply;
}

std::optional<std::string> ConfigEngine::verdictOf(std::uint64_t verification) const {
    std::lock_guard lock(mutex_);
    if (const auto found = verdicts_.find(verification); found != verdicts_.end()) return found->second;
    if (stopping_) return std::string("unknown: this version stopped during the verification window");
    return std::nullopt;
}

nlohmann::json ConfigEngine::rollback(const std::string& why) {
    std::lock_guard apply_lock(apply_mutex_);
    std::lock_guard lock(mutex_);
    return rollbackLocked("rolled back: " + why, "manual_rollback");
}

nlohmann::json ConfigEngine::rollbackLocked(const std::string& state, const std::string& result) {
    std::optional<std::size_t> current;
    std::optional<std::size_t> previous;
    for (std::size_t i = entries_.size(); i-- > 0;) {
        if (!current && entries_[i].state == "serving")
            current = i;
        else if (current && !previous && entries_[i].state == "previous")
            previous = i;
    }
    if (!current || !previous)
        return errorReply("no previous config to roll back to (history: " + std::to_string(entries_.size()) +
                          " entr(ies))");
    const auto& from = entries_[*current].config;
    const auto& to = entries_[*previous].config;
    if (diffConfigs(*from, *to).needsNewVersion())
        return errorReply("the previous config " + to->hash +
                          " needs a new version (other sockets or workers); "
                          "use gwctl config apply with its file instead");
    // The trace of the change undone: the one verifying it, or one of its own.
    std::shared_ptr<telemetry::StagedTrace> trace;
    if (verifying_) {
        verdicts_[verifying_->id] = state;
        trace = std::move(verifying_->trace);
        verifying_.reset();
    }
    const bool undoes_an_apply = trace != nullptr;
    if (!trace) {
        trace = std::make_shared<telemetry::StagedTrace>(tracer_, "config-apply");
        trace->root().setAttribute("origin", "rollback");
        trace->root().setAttribute("config_hash", to->hash);
        trace->root().setAttribute("previous_hash", from->hash);
    } else if (auto* verify = trace->openStage()) {
        verify->setAttribute("verdict", state);
        trace->endStage(StatusCode::Error, state);
    }
    auto& rolling = trace->stage("config-apply:rollback");
    rolling.setAttribute("reason", state.substr(state.rfind("rolled back: ", 0) == 0 ? 13 : 0));
    rolling.setAttribute("automatic", result == "rolled_back");
    rolling.setAttribute("to_hash", to->hash);
    // A rollback must happen even if the older certificates no longer load: routes matter more.
    if (auto tls = gateway_.applyTlsConfig(*to); !tls)
        log::warn("config rollback: TLS of ", to->hash, " not restored, current certificates keep serving: ",
                  tls.error().message);
    gateway_.publishConfig(to);
    entries_[*current].state = state;
    entries_[*previous].state = "serving";
    gateway_.metrics().recordConfigApply(result);
    verdict_changed_.notify_all();
    log::warn("config ", state, ": ", from->hash, " -> ", to->hash);
    trace->endStage(StatusCode::Ok);
    // An apply undone while verified failed; a rollback with a trace of its own succeeded.
    trace->finish(undoes_an_apply ? StatusCode::Error : StatusCode::Ok, state);
    auto reply = okReply("rolled back from " + from->hash + " to " + to->hash);
    reply["hash"] = to->hash;
    return reply;
}

nlohmann::json ConfigEngine::history() const {
    std::lock_guard lock(mutex_);
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& entry : entries_)
        entries.push_back({{"hash", entry.config->hash},
                           {"time_ms", unixMillis(entry.at)},
                           {"origin", entry.origin},
                           {"state", entry.state},
                           {"source", entry.config->source_path}});
    auto reply = okReply("");
    reply["entries"] = entries;
    if (verifying_) reply["verifying"] = {{"routes", verifying_->routes}};
    return reply;
}

nlohmann::json ConfigEngine::diffAgainstRunning(const std::string& path) const {
    auto loaded = loadConfigFile(path);
    if (!loaded) {
        auto reply = errorReply("config rejected (" + std::to_string(loaded.error().size()) + " problem(s))");
        reply["problems"] = nlohmann::json::array();
        for (const auto& problem : loaded.error()) reply["problems"].push_back(problem.format());
        return reply;
    }
    const auto running = gateway_.context().config();
    auto reply = okReply("");
    reply["running_hash"] = running->hash;
    reply["hash"] = (*loaded)->hash;
    reply["changes"] = changesJson(diffConfigs(*running, **loaded));
    return reply;
}

void ConfigEngine::trimHistory() {
    const std::size_t keep = std::max<std::size_t>(2, entries_.back().config->config_engine.history);
    while (entries_.size() > keep) entries_.pop_front();
}

RouteStats::Sample ConfigEngine::sum(const std::map<std::string, RouteStats::Sample>& sample,
                                     const std::vector<std::string>& routes) const {
    RouteStats::Sample total;
    for (const auto& route : routes)
        if (auto found = sample.find(route); found != sample.end()) total += found->second;
    return total;
}

RouteStats::Sample ConfigEngine::windowBefore(std::chrono::milliseconds length,
                                              const std::vector<std::string>& routes) {
    const auto now_sample = sum(gateway_.context().route_stats.sampleAll(), routes);
    if (samples_.empty()) return {};
    // The oldest sample still inside the window (or the oldest there is, for a young process).
    const auto since = std::chrono::steady_clock::now() - length;
    const TimedSample* start = &samples_.front();
    for (const auto& s : samples_)
        if (s.at >= since) {
            start = &s;
            break;
        }
    return now_sample - sum(start->routes, routes);
}

std::optional<std::string> ConfigEngine::judge(const Verification& v, const RouteStats::Sample& after,
                                               bool window_over) const {
    const auto& b = v.bounds;
    if (after.requests < b.min_requests) return std::nullopt;
    const double before_ratio = v.before.errorRatio();
    const double after_ratio = after.errorRatio();
    if (after_ratio - before_ratio > b.max_5xx_ratio_increase)
        return "5xx share on routes [" + joined(v.routes) + "] rose from " + percent(before_ratio) + " to " +
               percent(after_ratio) + " (" + std::to_string(after.errors_5xx) + " of " +
               std::to_string(after.requests) + "), more than the allowed " + percent(b.max_5xx_ratio_increase);
    if (b.p99_factor > 0 && v.before.requests >= b.min_requests) {
        const auto floor = std::chrono::duration_cast<std::chrono::microseconds>(b.p99_floor);
        const auto before_p99 = std::max(v.before.p99(), floor);
        const auto after_p99 = after.p99();
        // p99 is judged on the whole window: early on, a few slow answers would be noise.
        if (window_over && after_p99.count() > b.p99_factor * double(before_p99.count()))
            return "p99 on routes [" + joined(v.routes) + "] rose from " + std::to_string(before_p99.count()) +
                   "us to " + std::to_string(after_p99.count()) + "us, more than " + std::to_string(b.p99_factor) + "x";
    }
    return std::nullopt;
}

void ConfigEngine::endVerifyTrace(const std::string& verdict, StatusCode code) {
    if (!verifying_ || !verifying_->trace) return;
    auto& trace = *verifying_->trace;
    if (auto* verify = trace.openStage()) verify->setAttribute("verdict", verdict);
    trace.finish(code, verdict);
    verifying_->trace.reset();
}

void ConfigEngine::finishVerification(const std::string& verdict) {
    endVerifyTrace(verdict, StatusCode::Ok);
    verdicts_[verifying_->id] = verdict;
    while (verdicts_.size() > 1000) verdicts_.erase(verdicts_.begin());
    verifying_.reset();
    verdict_changed_.notify_all();
}

void ConfigEngine::monitorLoop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        verdict_changed_.wait_for(lock, kTick, [this] { return stopping_; });
        if (stopping_) break;
        const auto now = std::chrono::steady_clock::now();
        auto sample = gateway_.context().route_stats.sampleAll();
        samples_.push_back({now, sample});
        // Keep enough for the longest window the config allows us to look back over.
        const auto keep = gateway_.context().config()->config_engine.verification_window + 1s;
        while (!samples_.empty() && now - samples_.front().at > keep) samples_.pop_front();
        if (!verifying_) continue;
        const auto& v = *verifying_;
        const bool over = now - v.started >= v.bounds.verification_window;
        const auto after = sum(sample, v.routes) - v.at_start;
        if (auto why = judge(v, after, over)) {
            const std::string hash = gateway_.context().config()->hash;
            rollbackLocked("rolled back: " + *why, "rolled_back");
            log::warn("config ", hash, " failed verification: ", *why);
            continue;
        }
        if (!over) continue;
        std::string verdict = "verified";
        if (after.requests < v.bounds.min_requests)
            verdict +=
                " (only " + std::to_string(after.requests) + " answer(s) on the affected routes: too few to judge)";
        log::info("config ", gateway_.context().config()->hash, " ", verdict, " after ",
                  v.bounds.verification_window.count(), "ms");
        gateway_.metrics().recordConfigApply("verified");
        finishVerification(verdict);
    }
}

}  // namespace hotgate::control

// gwctl top: the health profile in a terminal, refreshed every second. One row per version
// (the admin /health), rates from the deltas of its cumulative counters between two polls, and
// the newest spikes and cutovers (/spikes) below. Plain ANSI (cursor home + clear) so it works
// over ssh without ncurses; when stdout is not a terminal, or with --once, it prints one frame
// (after two polls, so the rates are real) and exits: that is how scripts and tests use it.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "admin/admin_client.h"
#include "commands.h"
#include "outcome.h"
#include "protection_view.h"
#include "config/units.h"

namespace gwctl {
namespace {

using nlohmann::json;

struct TopOptions {
    bool once = false;
    std::string interval = "1s";
    int spikes = 12;
};

// One poll of the admin port: /health, and the spikes that arrived since the previous poll.
struct Poll {
    json health;        // null when /health failed
    json protection;    // the admin /protection body; null when it failed (an older version)
    std::string error;  // why the poll failed, for the frame
    bool unreachable = false;  // ... because the admin port did not answer
    std::chrono::steady_clock::time_point at;
};

// The newest events kept for the frame, and where to continue reading /spikes.
struct SpikeFeed {
    std::deque<json> events;
    std::uint64_t next = 0;
    std::uint64_t dropped = 0;
};

hotgate::Result<json> getJson(const std::string& admin, const std::string& target) {
    auto reply = hotgate::adminGet(admin, target);
    if (!reply) {  // not reached: errnum says so (ExitStatus::Unreachable)
        auto error = reply.error();
        if (error.errnum == 0) error.errnum = ECONNREFUSED;
        return tl::unexpected(error);
    }
    if (reply->status == 404)
        return hotgate::fail("admin ", admin, " has no ", target.substr(0, target.find('?')),
                             " (a hotgate without the health profile?)");
    if (reply->status != 200)
        return hotgate::fail("admin ", admin, " ", target, " answered ", reply->status, ": ", reply->body);
    auto parsed = json::parse(reply->body, nullptr, false);
    if (parsed.is_discarded()) return hotgate::fail("admin ", admin, " ", target, " is not JSON");
    return parsed;
}

// Reads /spikes from feed.next on (a few pages at most), keeping the newest `keep` events.
std::string pollSpikes(const std::string& admin, SpikeFeed& feed, std::size_t keep) {
    constexpr int kPage = 200;
    for (int page = 0; page < 10; ++page) {
        auto body = getJson(admin, "/spikes?since=" + std::to_string(feed.next) + "&limit=" + std::to_string(kPage));
        if (!body) return body.error().message;
        const auto events = body->value("events", json::array());
        for (const auto& event : events) {
            feed.events.push_back(event);
            while (feed.events.size() > keep) feed.events.pop_front();
        }
        feed.next = body->value("next", feed.next);
        feed.dropped = body->value("dropped", feed.dropped);
        if (events.size() < static_cast<std::size_t>(kPage)) break;
    }
    return {};
}

Poll pollHealth(const std::string& admin) {
    Poll poll;
    poll.at = std::chrono::steady_clock::now();
    auto health = getJson(admin, "/health");
    if (health) {
        poll.health = std::move(*health);
    } else {
        poll.error = health.error().message;
        poll.unreachable = health.error().errnum != 0;
    }
    if (auto protection = getJson(admin, "/protection")) poll.protection = std::move(*protection);
    return poll;
}

std::string formatMicros(double us) {
    char buffer[32];
    if (us >= 1e6)
        std::snprintf(buffer, sizeof buffer, "%.2fs", us / 1e6);
    else if (us >= 1e3)
        std::snprintf(buffer, sizeof buffer, "%.1fms", us / 1e3);
    else
        std::snprintf(buffer, sizeof buffer, "%.0fus", us);
    return buffer;
}

std::string formatRate(double perSecond) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, perSecond >= 100 ? "%.0f" : "%.1f", perSecond);
    return buffer;
}

// "HH:MM:SS.mmm" of a unix time in milliseconds, local time.
std::string clockOf(std::int64_t ms) {
    const std::time_t seconds = ms / 1000;
    std::tm tm{};
    localtime_r(&seconds, &tm);
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buffer;
}

std::string pad(std::string text, std::size_t width, bool right = false) {
    if (text.size() >= width) return text;
    return right ? std::string(width - text.size(), ' ') + text : text + std::string(width - text.size(), ' ');
}

// The same version in the previous poll (slot, label and pid: a restarted slot is a new row).
const json* previousOf(const json& previous, const json& version) {
    // By reference into `previous` (json::value() would return a copy, and a dangling pointer).
    if (!previous.is_object() || !previous.contains("versions") || !previous["versions"].is_array()) return nullptr;
    for (const auto& candidate : previous["versions"])
        if (candidate.value("slot", -1) == version.value("slot", -2) &&
            candidate.value("version", "") == version.value("version", "?") &&
            candidate.value("pid", -1) == version.value("pid", -2))
            return &candidate;
    return nullptr;
}

// Counter rate between two polls, "-" when there is no earlier sample (or the counter went back).
std::string rateOf(const json& now, const json* before, const char* field, double seconds) {
    if (!before || seconds <= 0) return "-";
    const double delta = now.value(field, 0.0) - before->value(field, 0.0);
    return delta < 0 ? "-" : formatRate(delta / seconds);
}

std::string quantileOf(const json& version, const char* field, const char* q) {
    if (!version.contains(field) || version[field].value("count", 0) == 0) return "-";
    return formatMicros(version[field].value(q, 0.0));
}

struct Style {
    bool ansi = false;
    std::string bold() const { return ansi ? "\x1b[1m" : ""; }
    std::string inverse() const { return ansi ? "\x1b[7m" : ""; }
    std::string red() const { return ansi ? "\x1b[1;31m" : ""; }
    std::string green() const { return ansi ? "\x1b[32m" : ""; }
    std::string dim() const { return ansi ? "\x1b[2m" : ""; }
    std::string reset() const { return ansi ? "\x1b[0m" : ""; }
};

std::string versionTable(const json& health, const json& previous, double seconds, const Style& style) {
    const auto versions = health.value("versions", json::array());
    std::size_t label_width = 7;
    for (const auto& v : versions) label_width = std::max(label_width, v.value("version", "?").size());
    std::ostringstream out;
    out << style.inverse() << pad("VERSION", label_width) << "  SLOT  ACT    REQ/S  ERR/S  CONNS   HS P50   HS P99"
        << "  RST SENT  RST RECV  RETRANS" << style.reset() << "\n";
    if (versions.empty()) out << style.dim() << "(no version registered a health slot yet)" << style.reset() << "\n";
    for (const auto& v : versions) {
        const json* before = previousOf(previous, v);
        const bool active = v.value("active", false);
        std::string phase = v.value("phase", "");
        out << (active ? style.green() + style.bold() : "") << pad(v.value("version", "?"), label_width) << "  "
            << pad(std::to_string(v.value("slot", -1)), 4, true) << "  " << pad(active ? "*" : "", 3) << "  "
            << pad(rateOf(v, before, "requests_total", seconds), 7, true) << "  "
            << pad(rateOf(v, before, "errors_total", seconds), 5, true) << "  "
            << pad(std::to_string(v.value("connections_open", 0)), 5, true) << "  "
            << pad(quantileOf(v, "handshake_us", "p50"), 7, true) << "  "
            << pad(quantileOf(v, "handshake_us", "p99"), 7, true) << "  "
            << pad(std::to_string(v.value("resets_sent", 0)), 8, true) << "  "
            << pad(std::to_string(v.value("resets_received", 0)), 8, true) << "  "
            << pad(std::to_string(v.value("retransmits", 0)), 7, true) << style.reset();
        if (!phase.empty()) out << "  " << phase;
        out << "\n";
    }
    return out.str();
}

std::string spikeLine(const json& e) {
    std::ostringstream out;
    const std::string kind = e.value("kind", "?");
    out << clockOf(e.value("time_ms", std::int64_t{0})) << "  " << pad(kind, 14) << "  ";
    if (kind == "cutover") {
        out << "slot " << (e.contains("from_slot") ? std::to_string(e.value("from_slot", -1)) + " -> " : "")
            << e.value("slot", -1) << "  " << e.value("version", "");
    } else {
        out << "slot " << e.value("slot", -1) << "  " << e.value("version", "") << "  "
            << formatMicros(e.value("value_us", 0.0)) << " > " << formatMicros(e.value("threshold_us", 0.0)) << "  "
            << e.value("src", "?") << " -> " << e.value("dst", "?");
    }
    return out.str();
}

std::string renderFrame(const std::string& admin, const Poll& now, const Poll& before, const SpikeFeed& feed,
                        const std::string& spike_error, const Style& style) {
    std::ostringstream out;
    const auto& health = now.health;
    const double seconds = std::chrono::duration<double>(now.at - before.at).count();
    out << style.bold() << "gwctl top" << style.reset() << "  admin " << admin;
    if (health.is_object()) {
        out << "  " << clockOf(health.value("now_ms", std::int64_t{0})) << "  probe "
            << (health.value("available", false) ? health.value("mode", "?") : "unavailable") << "  window "
            << health.value("window_s", 0) << "s  events dropped " << health.value("events_dropped", 0);
    }
    out << "\n";
    if (!now.error.empty()) out << style.red() << "ERROR: " << now.error << style.reset() << "\n";
    if (health.is_object() && !health.value("available", true))
        out << style.red() << "HEALTH UNAVAILABLE: " << health.value("reason", std::string("no reason given"))
            << " (latency, resets, retransmits are not measured)" << style.reset() << "\n";
    out << "\n";
    if (health.is_object()) out << versionTable(health, before.health, seconds, style);
    if (now.protection.is_object()) out << "\n" << protectionTable(now.protection.value("routes", json::array()), style.ansi);
    out << "\n" << style.inverse() << "SPIKES AND CUTOVERS (newest last)" << style.reset() << "\n";
    if (!spike_error.empty()) out << style.red() << "ERROR: " << spike_error << style.reset() << "\n";
    if (feed.events.empty() && spike_error.empty()) out << style.dim() << "(none so far)" << style.reset() << "\n";
    for (const auto& e : feed.events) {
        const bool cut = e.value("kind", "") == "cutover";
        out << (cut ? style.bold() : "") << spikeLine(e) << style.reset() << "\n";
    }
    // Level changes of the circuit breakers (shared by every version), newest last.
    const auto changes = now.protection.is_object() ? now.protection.value("changes", json::array()) : json::array();
    if (!changes.empty()) {
        out << "\n" << style.inverse() << "CIRCUIT BREAKER CHANGES (newest last)" << style.reset() << "\n";
        const std::size_t first = changes.size() > 8 ? changes.size() - 8 : 0;
        for (std::size_t i = first; i < changes.size(); ++i)
            out << clockOf(changes[i].value("time_ms", std::int64_t{0})) << "  " << pad("breaker", 14) << "  "
                << changes[i].value("route", "?") << " " << changes[i].value("from", "?") << " -> "
                << changes[i].value("to", "?") << "\n";
    }
    return out.str();
}

int runTop(const GlobalOptions& global, const TopOptions& options) {
    const auto interval = hotgate::parseDuration(options.interval);
    if (!interval || interval->count() < 100 || interval->count() > 60000) {
        failWith("top", "--interval '" + options.interval + "' must be a duration from 100ms to 60s (e.g. 1s)",
                 ExitStatus::Usage);
    }
    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    const char* term = std::getenv("TERM");
    const bool dumb = term == nullptr || std::string_view(term) == "dumb" || std::string_view(term).empty();
    const Style style{tty && !dumb};
    const bool once = options.once || !tty || global.json();

    SpikeFeed feed;
    const auto keep = static_cast<std::size_t>(options.spikes);
    Poll before = pollHealth(global.admin);
    if (once && !before.error.empty())
        failWith("top", before.error, before.unreachable ? ExitStatus::Unreachable : ExitStatus::Refused);
    for (;;) {
        std::this_thread::sleep_for(*interval);
        Poll now = pollHealth(global.admin);
        const std::string spike_error = pollSpikes(global.admin, feed, keep);
        if (global.json()) {  // one poll, as the admin endpoints said it
            if (!now.error.empty()) failWith("top", now.error, now.unreachable ? ExitStatus::Unreachable : ExitStatus::Refused);
            json events = json::array();
            for (const auto& event : feed.events) events.push_back(event);
            std::cout << json{{"health", now.health}, {"protection", now.protection}, {"spikes", events}}.dump(2)
                      << "\n";
            return 0;
        }
        const std::string frame = renderFrame(global.admin, now, before, feed, spike_error, style);
        // Cursor home and clear below: the frame replaces the previous one without flicker.
        if (style.ansi && !once) std::cout << "\x1b[H\x1b[J";
        std::cout << frame << std::flush;
        if (once) return now.error.empty() ? 0 : 1;
        if (!style.ansi) std::cout << "\n";
        if (now.error.empty()) before = std::move(now);
    }
}

}  // namespace

void addTopCommand(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<TopOptions>();
    auto* top = app.add_subcommand(
        "top", "live per-version view: req/s, errors/s, connections, handshake p50/p99, resets, retransmits, spikes");
    top->add_flag("--once", options->once,
                  "print one frame (after two polls, for the rates) and exit; the default "
                  "when stdout is not a terminal");
    top->add_option("--interval", options->interval, "time between refreshes (100ms..60s)")->capture_default_str();
    top->add_option("--spikes", options->spikes, "how many of the newest spikes to show")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000));
    top->callback([&global, options] {
        const int code = runTop(global, *options);
        if (code != 0) throw CLI::RuntimeError(code);
    });
}

}  // namespace gwctl

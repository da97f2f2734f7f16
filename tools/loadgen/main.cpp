// loadgen: open-loop HTTP/WebSocket load against one loopback target for a bounded time,
// counting every outcome and which gateway version served it. Exit status: 0 when nothing
// failed, 1 when anything failed (skipped included), 2 on bad arguments.
#include <fstream>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>

#include "options.h"
#include "report.h"
#include "runner.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailures = 1;
constexpr int kExitUsage = 2;

}  // namespace

int main(int argc, char** argv) {
    using namespace hotgate::loadgen;
    Options options;
    CLI::App app{"loadgen: open-loop HTTP and WebSocket load against a loopback target, every outcome counted"};
    app.add_option("--target", options.target_text, "ADDRESS:PORT on loopback (127.0.0.0/8 or [::1])")->required();
    app.add_option("--duration", options.duration_s, "seconds to run (1-600); loadgen stops by itself")->required();
    app.add_option("--rate", options.rate, "new-connection requests per second (open loop)");
    app.add_option("--keepalive", options.keepalive, "clients on persistent connections");
    const std::map<std::string, KeepaliveMode> modes{
        {"mixed", KeepaliveMode::kMixed}, {"busy", KeepaliveMode::kBusy}, {"paused", KeepaliveMode::kPaused}};
    std::string mode = "mixed";
    app.add_option("--keepalive-mode", mode, "mixed (half busy, half paused), busy or paused")
        ->check(CLI::IsMember({"mixed", "busy", "paused"}))
        ->capture_default_str();
    app.add_option("--pause-min-ms", options.pause_min_ms, "shortest pause of a paused keep-alive client")->capture_default_str();
    app.add_option("--pause-max-ms", options.pause_max_ms, "longest pause of a paused keep-alive client")->capture_default_str();
    app.add_option("--streams", options.streams, "long-lived WebSocket connections");
    app.add_option("--stream-path", options.stream_path, "WebSocket target path")->capture_default_str();
    app.add_option("--stream-interval-ms", options.stream_interval_ms, "one message per stream this often")->capture_default_str();
    app.add_option("--stream-bytes", options.stream_bytes, "largest random payload per message")->capture_default_str();
    app.add_option("--path", options.path, "HTTP request path")->capture_default_str();
    app.add_option("--timeout-ms", options.timeout_ms, "a request (connect to last byte) or echo slower than this fails")->capture_default_str();
    app.add_option("--max-lag-ms", options.max_lag_ms, "a --rate request the client starts later than this is skipped")->capture_default_str();
    app.add_option("--max-inflight", options.max_inflight, "--rate requests open at once; past it, skipped")->capture_default_str();
    app.add_option("--threads", options.threads, "worker threads, each with its own io_context")->capture_default_str();
    app.add_option("--seed", options.seed, "random seed (pauses, payloads)")->capture_default_str();
    app.add_option("--json", options.json_file, "write the JSON summary to this file instead of stdout");
    app.add_flag("--quiet", options.quiet, "no per-second lines on stderr");
    app.add_flag("--netns-target", options.netns_target,
                 "allow a private IPv4 target (10/8, 172.16/12, 192.168/16) from an isolated network namespace (not PID 1's, no default route)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }
    options.keepalive_mode = modes.at(mode);
    if (const auto valid = validate(options); !valid) {
        std::cerr << "loadgen: " << valid.error() << "\n";
        return kExitUsage;
    }
    std::ofstream json_file;
    if (!options.json_file.empty()) {
        json_file.open(options.json_file, std::ios::trunc);
        if (!json_file) {
            std::cerr << "loadgen: --json " << options.json_file << ": cannot open for writing\n";
            return kExitUsage;
        }
    }

    const RunResult result = runLoad(options, options.quiet ? nullptr : &std::cerr);
    const nlohmann::ordered_json summary = summaryJson(options, result);
    std::ostream& out = options.json_file.empty() ? std::cout : json_file;
    out << summary.dump(2) << "\n";
    out.flush();
    if (!out) {
        std::cerr << "loadgen: writing the summary failed\n";
        return kExitFailures;
    }
    const bool success = summary["success"].get<bool>();
    std::cerr << "loadgen: " << (success ? "no failures" : "FAILURES") << ": ok=" << summary["ok"]
              << " failed=" << summary["failed"] << " outcomes=" << summary["outcomes"].dump() << "\n";
    return success ? kExitOk : kExitFailures;
}

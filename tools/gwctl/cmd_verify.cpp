// gwctl verify: compare the running version's answers with the ready version's on mirrored
// live requests (or, with --replay, with its own recorded answers), print the table, and exit
// non-zero on any mismatch (docs/verification.md). gwctl cutover --verify N runs it first.
#include <iostream>

#include "commands.h"
#include "outcome.h"
#include "config/units.h"
#include "control/verify_request.h"
#include "control_client.h"
#include "shadow/shadow_report.h"

namespace gwctl {
using hotgate::control::MessageType;

void addVerifyOptions(CLI::App& command, VerifyOptions& options) {
    command.add_option("--routes", options.routes, "verify only these routes (comma-separated names)")->delimiter(',');
    command.add_option("--timeout", options.timeout, "how long to wait for the samples")->capture_default_str();
}

int runVerify(const GlobalOptions& global, const VerifyOptions& options, const char* verb) {
    const auto timeout = hotgate::parseDuration(options.timeout);
    if (!timeout || timeout->count() < 1 || *timeout > hotgate::control::VerifyRequest::kMaxTimeout) {
        failWith(verb, "--timeout '" + options.timeout + "' is not a duration from 1ms to 10m", ExitStatus::Usage);
    }
    hotgate::control::VerifyRequest request;
    request.samples = options.samples;
    request.routes = options.routes;
    request.timeout = *timeout;
    request.replay = options.replay;
    // The reply comes when the verification is done: its timeout, and each last sample's answer.
    auto reply = controlRequest(global.control_socket, MessageType::Verify, request.toJson(),
                                *timeout + std::chrono::seconds(15));
    if (!reply) failReaching(verb, reply.error());
    const auto message = reply->payload.value("message", std::string());
    if (global.json()) {
        std::cout << reply->payload.dump(2) << "\n";
    } else if (reply->payload.contains("report")) {
        if (auto report = hotgate::shadow::ShadowReport::fromJson(reply->payload["report"])) std::cout << report->table();
    }
    if (reply->type != MessageType::Ok) {
        std::cerr << "gwctl " << verb << ": " << (message.empty() ? "refused" : message) << "\n";
        return 1;  // a verification that found differences, or one the running version refused
    }
    if (!global.json()) std::cout << message << "\n";
    return 0;
}

void addVerifyCommand(CLI::App& app, GlobalOptions& global) {
    auto options = std::make_shared<VerifyOptions>();
    auto* verify = app.add_subcommand(
        "verify", "mirror live GET/HEAD requests (and those of shadow routes) to the running and the ready "
                  "version, compare their answers, exit 1 on a mismatch");
    verify->add_option("--samples,-n", options->samples, "how many live requests to compare")
        ->check(CLI::Range(std::size_t{1}, hotgate::control::VerifyRequest::kMaxSamples))
        ->capture_default_str();
    addVerifyOptions(*verify, *options);
    verify->add_flag("--replay", options->replay,
                     "send the last verified samples to the running version again (after a rollback) and compare "
                     "with its answers then");
    verify->callback([&global, options] {
        if (const int status = runVerify(global, *options, "verify"); status != 0) throw CLI::RuntimeError(status);
    });
}

}  // namespace gwctl

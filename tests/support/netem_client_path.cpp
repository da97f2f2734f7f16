#include "support/netem_client_path.h"

#include <unistd.h>

#include <filesystem>

#include "support/child_process.h"
#include "support/netns.h"

namespace hotgate::test {
namespace {

constexpr const char* kGatewayDevice = "hgw0";
constexpr const char* kClientDevice = "hcl0";

std::string firstExisting(std::initializer_list<const char*> paths) {
    for (const char* path : paths)
        if (::access(path, X_OK) == 0) return path;
    return *paths.begin();
}

// Runs tc in the calling thread's namespace; the error carries the command and tc's stderr.
Result<void> runTc(const std::vector<std::string>& args) {
    std::vector<std::string> argv{firstExisting({"/usr/sbin/tc", "/sbin/tc"})};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = runCommand(argv, std::filesystem::temp_directory_path(), std::chrono::seconds(10));
    if (result.exit_code == 0) return {};
    std::string line;
    for (const auto& arg : argv) line += (line.empty() ? "" : " ") + arg;
    return fail("'", line, "' failed (exit ", result.exit_code, "): ", result.err);
}

}  // namespace

Result<NetemClientPath> NetemClientPath::create() {
    auto client = createNetns();
    if (!client) return tl::unexpected(client.error());
    if (auto veth = createVethPair(kGatewayDevice, std::string(kGatewayAddress) + "/24", kClientDevice,
                                   std::string(kClientAddress) + "/24", client->get());
        !veth)
        return tl::unexpected(veth.error());
    return NetemClientPath(std::move(*client));
}

Result<void> NetemClientPath::setNetem(const std::vector<std::string>& args) {
    // Debian builds netem as a module; the kernel would also load it on demand.
    (void)runCommand({firstExisting({"/usr/sbin/modprobe", "/sbin/modprobe"}), "sch_netem"},
                     std::filesystem::temp_directory_path(), std::chrono::seconds(10));
    auto command = [&](const char* device) {
        std::vector<std::string> tc{"qdisc", "replace", "dev", device, "root", "netem"};
        tc.insert(tc.end(), args.begin(), args.end());
        return tc;
    };
    if (auto here = runTc(command(kGatewayDevice)); !here) return here;
    Result<void> there;
    if (auto ran = runInNetns(client_.get(), [&] { there = runTc(command(kClientDevice)); }); !ran) return ran;
    return there;
}

}  // namespace hotgate::test

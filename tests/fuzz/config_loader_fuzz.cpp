// libFuzzer target for the config loader: any bytes must give either a snapshot or problems,
// never a crash, a hang or a leak; and a snapshot must be normalized (its canonical form loads
// to the same hash, and it differs from itself in nothing).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config_diff.h"
#include "config/config_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto loaded = hotgate::loadConfigText(text, "fuzz.yaml");
    if (!loaded) {
        // Every problem says where and what.
        for (const auto& problem : loaded.error())
            if (problem.file != "fuzz.yaml" || problem.message.empty()) std::abort();
        (void)hotgate::formatProblems(loaded.error());
        return 0;
    }
    const auto& config = **loaded;
    if (config.hash.size() != 12 || config.listeners.empty()) std::abort();
    if (!hotgate::diffConfigs(config, config).empty()) std::abort();
    // Loading the same text twice gives the same snapshot.
    auto again = hotgate::loadConfigText(text, "fuzz.yaml");
    if (!again || (*again)->hash != config.hash) std::abort();
    return 0;
}

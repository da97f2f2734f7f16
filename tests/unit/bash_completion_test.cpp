// gwctl's bash completion generator (tools/gwctl/bash_completion.h) on a command line shaped
// like gwctl's: global options that fall through, nested verbs, flags and valued options. The
// script is checked by bash itself: it parses (bash -n), and completing typed words gives the
// words the command line accepts there.
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "gwctl/bash_completion.h"
#include "support/child_process.h"

namespace gwctl {
namespace {

using hotgate::test::makeTempDir;
using hotgate::test::runCommand;

class BashCompletionTest : public ::testing::Test {
protected:
    void SetUp() override {
        app.fallthrough();
        app.add_option("--admin", admin, "admin address");
        app.add_flag("--verbose", verbose, "say more");
        app.add_subcommand("status", "show status");
        auto* config = app.add_subcommand("config", "config commands");
        auto* apply = config->add_subcommand("apply", "apply a file");
        apply->add_option("file", file, "the config file");
        apply->add_option("--wait", wait, "how long to wait");
        apply->add_flag("--dry-run", dry_run, "only check");
        config->add_subcommand("history", "past configs");
        dir = makeTempDir("bash-completion");
        script = dir / "gwctl.bash";
        std::ofstream(script) << bashCompletionScript(app, "gwctl");
    }
    void TearDown() override { std::filesystem::remove_all(dir); }

    // What bash completes for `line` (the last word is the one being completed; "" for a new
    // word), space-separated and sorted.
    std::string complete(const std::string& line) {
        const std::string program = "source '" + script.string() + "'\n" + "COMP_WORDS=(" + line + ")\n" +
                                    "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n" +
                                    "_gwctl_complete\n" +
                                    "printf '%s\\n' \"${COMPREPLY[@]}\" | sort | paste -sd' '\n";
        const auto run = runCommand({"/bin/bash", "-c", program}, dir);
        EXPECT_EQ(run.exit_code, 0) << run.err;
        auto out = run.out;
        while (!out.empty() && out.back() == '\n') out.pop_back();
        return out;
    }

    CLI::App app{"gwctl"};
    std::string admin, file, wait;
    bool verbose = false, dry_run = false;
    std::filesystem::path dir, script;
};

TEST_F(BashCompletionTest, ScriptParsesAndRegistersForTheProgram) {
    const auto check = runCommand({"/bin/bash", "-n", script.string()}, dir);
    EXPECT_EQ(check.exit_code, 0) << check.err;
    const auto text = bashCompletionScript(app, "gwctl");
    EXPECT_NE(text.find("complete -o filenames -F _gwctl_complete gwctl"), std::string::npos);
}

TEST_F(BashCompletionTest, CompletesTheVerbsOfEachLevel) {
    EXPECT_EQ(complete("gwctl ''"), "config status");
    EXPECT_EQ(complete("gwctl co"), "config");
    EXPECT_EQ(complete("gwctl config ''"), "apply history");
}

TEST_F(BashCompletionTest, CompletesOptionsWithTheFallingThroughGlobals) {
    EXPECT_EQ(complete("gwctl --"), "--admin --help --verbose");
    EXPECT_EQ(complete("gwctl config apply --"), "--admin --dry-run --help --verbose --wait");
    EXPECT_EQ(complete("gwctl config apply --d"), "--dry-run");
}

TEST_F(BashCompletionTest, SkipsTheValuesOfOptionsThatTakeOne) {
    // "config" after --admin is its value, not the verb: the root's verbs are offered next.
    EXPECT_EQ(complete("gwctl --admin config ''"), "config status");
    // A flag takes no value: the word after it is a verb again.
    EXPECT_EQ(complete("gwctl --verbose config ''"), "apply history");
    // After an option that takes a value, files are completed.
    std::ofstream(dir / "candidate.yaml") << "x";
    EXPECT_EQ(complete("gwctl config apply --wait " + (dir / "cand").string()), (dir / "candidate.yaml").string());
}

TEST_F(BashCompletionTest, RefusesNamesThatWouldBreakTheScript) {
    CLI::App odd{"odd"};
    odd.add_subcommand("a\"b", "quoted");
    EXPECT_THROW(bashCompletionScript(odd, "odd"), std::invalid_argument);
}

}  // namespace
}  // namespace gwctl

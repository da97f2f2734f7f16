// GatewayProcess: the real hotgate binary run by a test on 127.0.0.1: config written to a temp
// dir, stderr captured, started and waited for until its ports accept, killed on destruction.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/gateway_config.h"

namespace hotgate::test {

// Paths of the binaries under test (HOTGATE_BIN_DIR comes from tests/CMakeLists.txt).
std::string hotgateBinary();
std::string gwctlBinary();

// A 127.0.0.1 TCP port that was free a moment ago (bound to :0, read, closed). Another
// process may take it before the test binds it; tests accept that small race.
std::uint16_t pickFreePort();

// True when a TCP connect to 127.0.0.1:port completes within `timeout`.
bool canConnect(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(500));

class GatewayProcess {
public:
    GatewayProcess();
    // Kills the process (if any) and removes the temp dir unless HOTGATE_KEEP_TEMP is set.
    ~GatewayProcess();

    GatewayProcess(const GatewayProcess&) = delete;
    GatewayProcess& operator=(const GatewayProcess&) = delete;

    // Writes `config` and starts `hotgate --config FILE`; succeeds once both the listener and
    // the admin port accept connections. Fails (with the stderr of the process in the message)
    // when the process exits or is not ready within `ready_timeout`. Unless the config names
    // one, the process gets a bpffs root and a control socket of its own, so tests running in
    // parallel (or beside an operator's hotgate) never share pinned maps or the socket.
    ::testing::AssertionResult start(const GatewayConfig& config,
                                     std::chrono::milliseconds ready_timeout = std::chrono::seconds(20));

    // Runs hotgate under this command (e.g. setpriv dropping capabilities); set before start().
    void setLauncher(std::vector<std::string> prefix) { launcher_ = std::move(prefix); }

    // Writes text to a file in the temp dir and returns its path (for --check-config tests).
    std::filesystem::path writeFile(const std::string& name, const std::string& text) const;

    const std::filesystem::path& dir() const { return dir_; }
    const std::filesystem::path& configFile() const { return config_file_; }
    // The config as written for the process (with the test's own bpffs root filled in).
    const GatewayConfig& writtenConfig() const { return written_config_; }
    std::filesystem::path controlSocket() const { return dir_ / "control.sock"; }
    std::uint16_t port() const { return port_; }
    std::uint16_t adminPort() const { return admin_port_; }
    pid_t pid() const { return child_.pid(); }
    bool running() { return child_.running(); }
    bool signal(int sig) {
        signalled_ = true;
        return child_.signal(sig);
    }
    // True once a test sent a signal or said the process will exit (its exit is then expected,
    // not a crash).
    bool signalled() const { return signalled_; }
    // The process will end by itself (an upgrade commit hands over and exits).
    void expectExit() { signalled_ = true; }
    std::optional<int> waitExit(std::chrono::milliseconds timeout) { return child_.waitExit(timeout); }
    std::string stderrText() const { return child_.readStderr(); }

private:
    std::filesystem::path dir_;
    std::filesystem::path config_file_;
    std::filesystem::path own_bpffs_root_;  // removed on destruction
    GatewayConfig written_config_;
    std::vector<std::string> launcher_;
    std::uint16_t port_ = 0;
    std::uint16_t admin_port_ = 0;
    ChildProcess child_;
    bool signalled_ = false;
};

}  // namespace hotgate::test
